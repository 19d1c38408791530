"""Maven licence signals: the effective POM's `<licenses>` (inherited from parents as the client
resolves them). Each `<license>` is its `<name>`, else its `<url>`; the Maven model says several
licences are a choice ("the user can select any of them"), so the list is an OR."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ssc_cli.licenses.signals import text_of
from ssc_cli.models import LicenseEvidence, LicenseGroup, LicenseTerm

_QUALIFIER = re.compile(
    r"(alpha|beta|milestone|preview|snapshot|incubat|(?<![a-z])(rc|cr|ea|m)\d*(?![a-z]))",
    re.IGNORECASE,
)


def _licence(entry: Any) -> LicenseTerm | LicenseGroup | None:
    if not isinstance(entry, dict):
        return None
    parts = []
    name = text_of(entry.get("name"))
    if name:
        parts.append(LicenseTerm("text", name))
    url = text_of(entry.get("url"))
    if url:
        parts.append(LicenseTerm("url", url))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else LicenseGroup("first", tuple(parts))


def _raw(entry: dict[str, Any]) -> str:
    name, url = text_of(entry.get("name")), text_of(entry.get("url"))
    return f"{name} <{url}>" if name and url else name or url


def evidence(signals: Mapping[str, Any]) -> LicenseEvidence:
    value = signals.get("licenses")
    entries = [e for e in (value if isinstance(value, list) else []) if isinstance(e, dict)]
    parts = tuple(dict.fromkeys(p for e in entries if (p := _licence(e)) is not None))
    if not parts:
        return LicenseEvidence(None)
    root = parts[0] if len(parts) == 1 else LicenseGroup("or", parts)
    return LicenseEvidence(root, "; ".join(_raw(e) for e in entries if _raw(e)))


def is_prerelease(version: str) -> bool:
    """Maven qualifiers of unfinished releases (alpha, beta, milestone, rc, cr, SNAPSHOT, ...)."""
    return bool(_QUALIFIER.search(version))
