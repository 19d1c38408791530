"""RubyGems licence signals: `licenses`, an array of single ids (Gem::Licenses: an SPDX id with
an optional `+` or ` WITH` exception, `Nonstandard`, or `LicenseRef-…`). Nothing states how the
elements relate, so several elements decide only when they agree (reference §8, §9.1)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ssc_cli.licenses.signals import text_of
from ssc_cli.models import LicenseEvidence, LicenseGroup, LicenseTerm

_LETTER = re.compile(r"[a-zA-Z]")


def _term(value: Any) -> LicenseTerm | None:
    text = text_of(value)
    if not text:
        return None
    if text.lower() == "nonstandard":
        return LicenseTerm("marker", "nonstandard")
    return LicenseTerm("text", text)


def evidence(signals: Mapping[str, Any]) -> LicenseEvidence:
    value = signals.get("licenses")
    items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    terms = tuple(dict.fromkeys(t for item in items if (t := _term(item)) is not None))
    if not terms:
        return LicenseEvidence(None)
    root = terms[0] if len(terms) == 1 else LicenseGroup("unspecified", terms)
    return LicenseEvidence(root, json.dumps(items) if len(items) != 1 else text_of(items[0]))


def is_prerelease(version: str) -> bool:
    """Gem::Version#prerelease?: any letter in the version."""
    return bool(_LETTER.search(version))
