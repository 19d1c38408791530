"""RubyGems in OSV records: gem names as the graph spells them, Gem::Version order, no platform."""

from __future__ import annotations

from typing import Any

from univers.versions import RubygemsVersion

from ssc_cli.registries.rubygems.compact_index import split_token

OSV_ECOSYSTEM = "RubyGems"


def match_name(name: str) -> str:
    """The graph keeps gem names in lower case (securechain-compat.md §7)."""
    return name.strip().lower()


def version_key(version: str) -> Any:
    """A platform suffix (`1.2.0-x86-linux`) would read as a prerelease: it is not part of the
    number (the compact index's first `-` splits, as the client does)."""
    number, _ = split_token(version.strip())
    return RubygemsVersion(number).value
