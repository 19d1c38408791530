"""Maven in OSV records: `group:artifact` names, ComparableVersion order with RELEASE = GA."""

from __future__ import annotations

import re
from typing import Any

from univers.versions import MavenVersion

OSV_ECOSYSTEM = "Maven"
# A `release` qualifier token (GHSA writes Spring versions as 5.2.0.RELEASE): osv.dev's maven.py
# treats it like `ga`/`final` ("implemented by Maven"); univers only aliases ga and final.
_RELEASE = re.compile(r"(?<![A-Za-z])release(?![A-Za-z])", re.IGNORECASE)


def match_name(name: str) -> str:
    """Coordinates are case-sensitive: compared exactly."""
    return name.strip()


def version_key(version: str) -> Any:
    return MavenVersion(_RELEASE.sub("ga", version.strip())).value
