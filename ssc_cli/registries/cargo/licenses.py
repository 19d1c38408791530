"""crates.io licence signals: `license`, an SPDX 2.3 expression in which the deprecated `/`
separator means OR (crates.io parses it with allow_slash_as_or_operator)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ssc_cli.licenses.signals import text_of
from ssc_cli.models import LicenseEvidence, LicenseTerm

_SLASH = re.compile(r"\s*/\s*")


def evidence(signals: Mapping[str, Any]) -> LicenseEvidence:
    raw = text_of(signals.get("license"))
    if not raw:
        return LicenseEvidence(None)
    if raw.lower() == "non-standard":  # what old crates.io stored when only license-file was set
        return LicenseEvidence(LicenseTerm("marker", "see-license-file"), raw)
    return LicenseEvidence(LicenseTerm("text", _SLASH.sub(" OR ", raw)), raw)


def is_prerelease(version: str) -> bool:
    return "-" in version.split("+", 1)[0]
