"""NuGet in OSV records: case-insensitive ids, NuGet's normalised SemVer order."""

from __future__ import annotations

from typing import Any

from univers.versions import NugetVersion

OSV_ECOSYSTEM = "NuGet"


def match_name(name: str) -> str:
    """Package ids are case-insensitive; records keep the display case (google/osv.dev#5292)."""
    return name.strip().lower()


def version_key(version: str) -> Any:
    """1.0.0.0 == 1.0.0, prerelease labels compared case-insensitively (univers' port of osv.dev)."""
    try:
        return NugetVersion(version).value
    except ValueError:
        raise
    except Exception as exc:  # InvalidNuGetVersion is not a ValueError
        raise ValueError(f"invalid NuGet version {version!r}") from exc
