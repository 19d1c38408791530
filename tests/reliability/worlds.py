"""Synthetic registries of every ecosystem at a chosen size, mounted on one fake registry.

Shared by the reliability tests (small sizes) and benchmarks/bench_soak.py (2,000 packages each).
"""

from __future__ import annotations

from collections.abc import Callable

from tests.fakeregistry import nuget, pypi, rubygems
from tests.fakeregistry.cargo import CargoApp
from tests.fakeregistry.maven import MavenApp
from tests.fakeregistry.npm import NpmApp
from tests.fakeregistry.server import FakeRegistry

ECOSYSTEMS = ("pypi", "npm", "maven", "nuget", "cargo", "rubygems")


def _pypi(server: FakeRegistry, n: int) -> None:
    server.mount("pypi", pypi.synthetic(n, versions=3, deps=2))


def _npm(server: FakeRegistry, n: int) -> None:
    NpmApp.synthetic(n, versions=3, deps=2).mount(server)


def _maven(server: FakeRegistry, n: int) -> None:
    server.mount("maven", MavenApp.synthetic(n, versions_per_package=3))


def _nuget(server: FakeRegistry, n: int) -> None:
    feed = nuget.synthetic(
        n, versions_per_package=3, deps_per_version=2, page_size=100, commit_size=20
    )
    server.mount("nuget", feed)


def _cargo(server: FakeRegistry, n: int) -> None:
    CargoApp.synthetic(n, versions=3, deps=2).mount_on(server)


def _rubygems(server: FakeRegistry, n: int) -> None:
    server.mount("rubygems", rubygems.synthetic(n, versions_per_package=3))


MOUNT: dict[str, Callable[[FakeRegistry, int], None]] = {
    "pypi": _pypi,
    "npm": _npm,
    "maven": _maven,
    "nuget": _nuget,
    "cargo": _cargo,
    "rubygems": _rubygems,
}


def mount(server: FakeRegistry, ecosystem: str, n: int) -> None:
    """Serve a synthetic registry of n packages of the ecosystem on server."""
    MOUNT[ecosystem](server, n)
