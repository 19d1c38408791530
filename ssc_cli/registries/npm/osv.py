"""npm in OSV records: names as published, SemVer 2 order without build metadata."""

from __future__ import annotations

from typing import Any

from univers.versions import SemverVersion

OSV_ECOSYSTEM = "npm"


def match_name(name: str) -> str:
    """npm names compare exactly: legacy names differing only by case are different packages."""
    return name.strip()


def version_key(version: str) -> Any:
    """SemVer precedence; build metadata is ignored (SemVer §10), which univers does not do."""
    return SemverVersion(version.partition("+")[0]).value
