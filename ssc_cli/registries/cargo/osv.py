"""crates.io in OSV records: canonical crate names, SemVer 2 order without build metadata."""

from __future__ import annotations

from typing import Any

from univers.versions import SemverVersion

OSV_ECOSYSTEM = "crates.io"


def match_name(name: str) -> str:
    """crates.io's own canon_crate_name: lower case, `-` and `_` the same."""
    return name.strip().lower().replace("-", "_")


def version_key(version: str) -> Any:
    """SemVer precedence; build metadata (`110.0.0+1.1.0f`) is ignored as SemVer §10 says."""
    return SemverVersion(version.partition("+")[0]).value
