"""A small fault soak per ecosystem: under the issue-15 mix nothing is lost, and a second run as
cron would make it leaves exactly the graph of a fault-free run (the full one: bench_soak.py)."""

from __future__ import annotations

import pytest

from tests.conftest import Ssc
from tests.fakeregistry.server import FakeRegistry
from tests.reliability import worlds
from tests.reliability.soak import soak

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
