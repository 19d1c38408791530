"""A small fault soak per ecosystem: under the issue-15 mix nothing is lost, and a second run as
cron would make it leaves exactly the graph of a fault-free run (the full one: bench_soak.py)."""

from __future__ import annotations

import pytest

from tests.conftest import Ssc
from tests.fakeregistry.server import FakeRegistry
from tests.reliability import worlds
from tests.reliability.soak import differing_packages, soak

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("ecosystem", worlds.ECOSYSTEMS)
def test_fault_soak_loses_nothing_and_converges(
    ssc: Ssc, fake_registry: FakeRegistry, ecosystem: str
) -> None:
    worlds.mount(fake_registry, ecosystem, 30)
    result = soak(fake_registry, ssc, ecosystem, seed=20261201)
    assert result.packages >= 30
    assert sum(result.faults.values()) > 0, "the mix served no fault at all"
    assert result.retries > 0
    assert result.lost_first == 0
    assert result.identical, "\n".join(result.differences)


def test_differing_packages_names_the_package_of_each_changed_row() -> None:
    """What bench_soak.py compares with the last run's recorded failures."""
    pkg = {"type": "package", "name": "a", "purl": "pkg:npm/a", "status": "extracted"}
    other = {"type": "package", "name": "b", "purl": "pkg:npm/b", "status": "extracted"}
    version = {"type": "version", "package": "pkg:npm/a", "purl": "pkg:npm/a@1", "name": "1"}
    edge = {"type": "requires", "from": "pkg:npm/b@1", "parent_version_name": "pkg:npm/b"}
    left = [pkg, other, version, edge]
    assert differing_packages(left, list(left)) == set()
    assert differing_packages(left, [pkg, other, edge]) == {"a"}
    assert differing_packages(left, [pkg, {**other, "status": "pending"}, version]) == {"b"}
