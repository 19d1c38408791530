"""The queue under load, small (issue 15, item 7): 8 workers, 1,000 messages added while they
drain, two workers SIGKILLed and Redis restarted midway; every message settled once in effect.

The full run (20,000 messages) is benchmarks/bench_queue_load.py; both use tests/queue/load.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry, Faults
from tests.queue.load import REFUSED, LoadPlan, ok_count, planned, run_load
from tests.queue.redis_server import RestartableRedis

PLAN = LoadPlan(
    messages=1_000, workers=8, kills=2, restarts=1, seed=15, claim_idle_ms=2_000, deadline=240
)


@pytest.mark.slow
def test_eight_workers_two_killed_one_redis_restart_every_message_settled_once(
    qssc: Ssc, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    fake_registry.latency = 0.005
    fake_registry.mount(
        "pypi", pypi.synthetic(ok_count(PLAN), versions=PLAN.versions, deps=1, wheels=False)
    )
    fake_registry.faults = Faults(always={REFUSED: 403})
    server = RestartableRedis(tmp_path / "redis", appendfsync="everysec")
    server.start()
    try:
        report = run_load(PLAN, qssc, server, tmp_path / "load")
    finally:
        server.stop()
    assert report.problems == [], (report.problems, report.figures())
    figures = report.figures()
    assert len(report.events) == 3 and report.redis_down >= 1.0, figures
    # The kills left entries behind, and they were claimed (the accounting shows none lost).
    # Not `reclaimed >= orphaned`: the first victim's entries may be claimed by the worker killed
    # second, whose summary dies with it, and a victim may ack its batch between the check that
    # it holds one and the SIGKILL.
    assert report.orphaned > 0 and report.total("reclaimed") > 0, figures
    assert report.dead_letters["failed"] == sum(1 for p in planned(PLAN) if p.kind == "refused")
