"""npm licence signals: `license` (SPDX expression, SEE LICENSE IN <file>, UNLICENSED) or the
deprecated `license: {type, url}` and `licenses: [{type, url}]`, read as a choice (npm's own
migration example rewrites a two-entry licenses[] as `(MIT OR Apache-2.0)`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ssc_cli.licenses.signals import text_of
from ssc_cli.models import LicenseEvidence, LicenseGroup, LicenseTerm

_SEE = re.compile(r"^see\s+licen[cs]e\s+in\b", re.IGNORECASE)


def _entry(value: Any) -> LicenseTerm | LicenseGroup | None:
    if isinstance(value, str):
        text = text_of(value)
        if not text:
            return None
        if text.upper() == "UNLICENSED":
            return LicenseTerm("marker", "marker-unlicensed")
        if _SEE.match(text):
            return LicenseTerm("marker", "see-license-file")
        return LicenseTerm("text", text)
    if isinstance(value, dict):
        parts: list[LicenseTerm | LicenseGroup] = []
        kind = _entry(value.get("type") or value.get("name"))
        if kind is not None:
            parts.append(kind)
        url = text_of(value.get("url"))
        if url:
            parts.append(LicenseTerm("url", url))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else LicenseGroup("first", tuple(parts))
    return None


def evidence(signals: Mapping[str, Any]) -> LicenseEvidence:
    value = signals.get("license")
    if value is None or _entry(value) is None:
        value = signals.get("licenses")
    if isinstance(value, list):
        entries = tuple(e for item in value if (e := _entry(item)) is not None)
        root = (
            None
            if not entries
            else entries[0]
            if len(entries) == 1
            else LicenseGroup("or", entries)
        )
    else:
        root = _entry(value)
    if root is None:
        return LicenseEvidence(None)
    raw = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return LicenseEvidence(root, raw)


def is_prerelease(version: str) -> bool:
    """SemVer: a pre-release carries `-` before any build metadata."""
    return "-" in version.split("+", 1)[0]
