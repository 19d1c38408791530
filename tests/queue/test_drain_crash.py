"""A drain-queue worker SIGKILLed right after a graph write committed, then rerun: the export
equals an undisturbed drain's, and no entry is acked before its package is in the graph.
(20 kills per command at seeded moments, inside writes and after acks too: bench_crash.py.)"""

from __future__ import annotations

import json

import pytest
import redis

from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry
from tests.reliability import crash

pytestmark = pytest.mark.slow

STREAM = "package-extraction"
BATCHES = {"SSC_WRITE_BATCH_SIZE": "4"}
# Acked entries stay on the stream, so each one can be checked against the graph.
KEEP = {**BATCHES, "SSC_QUEUE_TRIM_ACKED": "false"}
DRAIN = ("drain-queue", "--until-empty", "--batch", "4")
N = 16
ROOT = f"pkg-{N - 1:05d}"


@pytest.fixture
def app(fake_registry: FakeRegistry) -> pypi.PyPIApp:
    registry = pypi.synthetic(N, versions=2, deps=2)
    fake_registry.mount("pypi", registry)
    return registry


def _acked(client: redis.Redis) -> set[str]:
    """Packages of the stream entries acked so far (delivered, no longer pending)."""
    pending = {
        row["message_id"] for row in client.xpending_range(STREAM, "extractors", "-", "+", 1000)
    }
    delivered = crash.entry_key(client.xinfo_groups(STREAM)[0]["last-delivered-id"])
    return {
        json.loads(fields["data"])["package"]
        for entry_id, fields in client.xrange(STREAM)
        if crash.entry_key(entry_id) <= delivered and entry_id not in pending
    }


@pytest.mark.parametrize("marked", [False, True], ids=["killed", "killed-after-marking"])
def test_a_worker_killed_after_its_write_rerun_leaves_the_undisturbed_graph(
    qssc: Ssc, app: pypi.PyPIApp, redis_client: redis.Redis, marked: bool
) -> None:
    clean = qssc.with_graph("clean.sqlite")
    clean("enqueue", "pypi", ROOT)
    clean(*DRAIN, env=KEEP)
    reference = clean.export()
    assert sum(1 for i in reference if i["type"] == "package") > 4  # dependencies followed

    redis_client.flushall()
    qssc("enqueue", "pypi", ROOT)
    # The first batch is the root alone: killed once its package committed, before its
    # dependencies were queued (and before the ack).
    killed = crash.faulted(qssc, "written:1", *DRAIN, env=KEEP)
    assert killed.returncode == -9, killed.stderr
    assert crash.integrity(qssc) == "ok"
    partial = qssc.export()
    assert crash.whole(partial, reference) == []
    extracted = {
        i["name"] for i in partial if i["type"] == "package" and i["status"] == "extracted"
    }
    assert ROOT in extracted
    assert _acked(redis_client) <= extracted  # an ack never runs ahead of the commit
    if marked:  # as if it died between marking the root's dependencies (SET NX) and its XADD
        pending = [
            i["name"] for i in partial if i["type"] == "package" and i["status"] == "pending"
        ]
        assert pending
        for name in pending:
            redis_client.set(f"ssc:queued:{STREAM}:PyPIPackage:{name}", "1", ex=3600)
    qssc(*DRAIN, env=KEEP)  # claims the dead worker's entry once it is idle
    assert qssc.export() == reference
    group = redis_client.xinfo_groups(STREAM)[0]
    assert group["pending"] == 0 and group["lag"] == 0
