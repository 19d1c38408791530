"""Which OSV ecosystem string is which ssc ecosystem, and the per-ecosystem matching rules.

The rules themselves live in each ecosystem's folder (`ssc_cli/registries/<eco>/osv.py`); this
module only finds them, lazily, so a command reads the modules of the ecosystems it touches.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ssc_cli.models import Ecosystem

# Every ecosystem the OSV schema defines (ossf/osv-schema ecosystems.json @ 51b8156b, 2026-07-01).
# A record naming one of these that ssc does not ingest is skipped; any other name (wrong case
# included: the spec and the osv.dev API are case-sensitive) is bad input.
OSV_DEFINED = frozenset(
    {
        "AlmaLinux", "Alpaquita", "Alpine", "Android", "Azure Linux",
        "BellSoft Hardened Containers", "Bioconductor", "Bitnami", "Chainguard", "CleanStart",
        "ConanCenter", "CRAN", "crates.io", "Debian", "Docker Hardened Images", "Echo", "FreeBSD",
        "GHC", "GitHub Actions", "Go", "Hackage", "Hex", "Julia", "Kubernetes", "Linux", "Mageia",
        "Maven", "MinimOS", "npm", "NuGet", "opam", "openEuler", "openSUSE", "OSS-Fuzz",
        "Packagist", "Photon OS", "Pub", "PyPI", "Red Hat", "Rocky Linux", "Root", "RubyGems",
        "SUSE", "SwiftURL", "TuxCare", "Ubuntu", "VSCode", "Wolfi",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rules:
    """How one ecosystem's names and versions are compared when matching OSV records."""

    ecosystem: Ecosystem
    osv_name: str
    match_name: Callable[[str], str]
    version_key: Callable[[str], Any]


@functools.cache
def rules(ecosystem: Ecosystem) -> Rules:
    module = importlib.import_module(f"ssc_cli.registries.{ecosystem.value}.osv")
    return Rules(ecosystem, module.OSV_ECOSYSTEM, module.match_name, module.version_key)


def osv_name(ecosystem: Ecosystem) -> str:
    """The OSV `ecosystem` string (and osv.dev bucket folder) of an ssc ecosystem."""
    return rules(ecosystem).osv_name


_BY_OSV = {
    "PyPI": Ecosystem.PYPI,
    "npm": Ecosystem.NPM,
    "Maven": Ecosystem.MAVEN,
    "NuGet": Ecosystem.NUGET,
    "crates.io": Ecosystem.CARGO,
    "RubyGems": Ecosystem.RUBYGEMS,
}


def from_osv(text: str) -> Ecosystem | None:
    """The ssc ecosystem of an OSV ecosystem string (`Maven:https://…` is Maven); None if not ours."""
    return _BY_OSV.get(text.partition(":")[0])


def is_defined(text: str) -> bool:
    """Whether the OSV schema defines this ecosystem (a `:suffix` such as `Debian:11` allowed)."""
    return text.partition(":")[0] in OSV_DEFINED
