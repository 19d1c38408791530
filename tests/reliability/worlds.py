"""Synthetic registries of every ecosystem at a chosen size, mounted on one fake registry.

Shared by the reliability tests (small sizes), benchmarks/bench_soak.py (2,000 packages each)
and `python -m tests.fakeregistry` (tests/fakeregistry/cli.py).
"""

from __future__ import annotations

from collections.abc import Callable

from tests.fakeregistry import nuget, pypi, rubygems
from tests.fakeregistry.cargo import CargoApp
from tests.fakeregistry.maven import MavenApp
from tests.fakeregistry.npm import NpmApp
from tests.fakeregistry.server import FakeRegistry

ECOSYSTEMS = ("pypi", "npm", "maven", "nuget", "cargo", "rubygems")


def _pypi(server: FakeRegistry, n: int, versions: int, seed: int) -> None:
    server.mount("pypi", pypi.synthetic(n, versions=versions, deps=2, seed=seed))


def _npm(server: FakeRegistry, n: int, versions: int, seed: int) -> None:
    NpmApp.synthetic(n, versions=versions, deps=2, seed=seed).mount(server)


def _maven(server: FakeRegistry, n: int, versions: int, seed: int) -> None:
    # Deterministic without a seed: each artifact depends on its predecessor.
    server.mount("maven", MavenApp.synthetic(n, versions_per_package=versions))


def _nuget(server: FakeRegistry, n: int, versions: int, seed: int) -> None:
    # Deterministic without a seed: each package depends on the two before it.
    feed = nuget.synthetic(
        n, versions_per_package=versions, deps_per_version=2, page_size=100, commit_size=20
    )
    server.mount("nuget", feed)


def _cargo(server: FakeRegistry, n: int, versions: int, seed: int) -> None:
    CargoApp.synthetic(n, versions=versions, deps=2, seed=seed).mount_on(server)


def _rubygems(server: FakeRegistry, n: int, versions: int, seed: int) -> None:
    server.mount("rubygems", rubygems.synthetic(n, versions_per_package=versions, seed=seed))


MOUNT: dict[str, Callable[[FakeRegistry, int, int, int], None]] = {
    "pypi": _pypi,
    "npm": _npm,
    "maven": _maven,
    "nuget": _nuget,
    "cargo": _cargo,
    "rubygems": _rubygems,
}


def mount(
    server: FakeRegistry, ecosystem: str, n: int, *, versions: int = 3, seed: int = 7
) -> None:
    """Serve a synthetic registry of n packages of the ecosystem on server (dependencies drawn
    with seed where the ecosystem's generator takes one)."""
    MOUNT[ecosystem](server, n, versions, seed)
