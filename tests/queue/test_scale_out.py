"""Four drain-queue workers over 2,000 messages, one SIGKILLed midway: an exactly-once effect."""

from __future__ import annotations

import json
import signal
import socket
import time

import pytest
import redis

from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry

STREAM = "package-extraction"
N = 2_000
VERSIONS = 2


@pytest.mark.slow
def test_four_workers_one_killed_every_message_takes_effect_once(
    qssc: Ssc, fake_registry: FakeRegistry, redis_client: redis.Redis, tmp_path
) -> None:
    fake_registry.latency = 0.005
    fake_registry.mount("pypi", pypi.synthetic(N, versions=VERSIONS, deps=1, wheels=False))
    names = tmp_path / "names.txt"
    names.write_text("".join(f"pkg-{i:05d}\n" for i in range(N)))
    assert qssc.json("enqueue", "pypi", "--names-from", str(names))["enqueued"] == N
    env: dict[str, str | None] = {"SSC_QUEUE_CLAIM_IDLE_MS": "2000", "SSC_IMPORT_NAMES": "false"}
    args = ("drain-queue", "--until-empty", "--batch", "20", "--json")
    workers = [qssc.popen(*args, env=env) for _ in range(4)]
    victim = workers[0]
    victim_name = f"{socket.gethostname()}-{victim.pid}"

    def victim_pending() -> int:
        for consumer in redis_client.xinfo_consumers(STREAM, "extractors"):
            if consumer["name"] == victim_name:
                return int(consumer["pending"])
        return 0

    # Kill it while it holds a batch, once a good part of the stream went through.
    deadline = time.monotonic() + 120
    while True:
        assert time.monotonic() < deadline, "the workers made no progress"
        assert victim.poll() is None, victim.stderr.read() if victim.stderr else ""
        delivered = redis_client.xinfo_groups(STREAM)[0]["entries-read"] or 0
        if delivered >= N // 4 and victim_pending() > 0:
            break
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)  # reaps it and closes its pipes
    orphaned = victim_pending()
    assert orphaned > 0

    summaries = []
    for worker in workers[1:]:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
        summaries.append(json.loads(out))
    # The dead worker's entries were claimed (XAUTOCLAIM) and processed by the others.
    assert victim_pending() == 0
    assert sum(s["reclaimed"] for s in summaries) >= orphaned
    group = redis_client.xinfo_groups(STREAM)[0]
    assert group["pending"] == 0 and group["lag"] == 0  # every entry delivered and acked
    assert redis_client.xlen("package-extraction-dlq") == 0  # nothing dead-lettered, none lost
    assert all(s["failed"] == 0 for s in summaries)

    export = qssc.export()
    packages = [i for i in export if i["type"] == "package"]
    assert len(packages) == N and len({p["purl"] for p in packages}) == N
    assert all(p["status"] == "extracted" for p in packages)
    versions = [i for i in export if i["type"] == "version"]
    assert len(versions) == N * VERSIONS and len({v["purl"] for v in versions}) == N * VERSIONS
    edges = [i for i in export if i["type"] == "requires"]
    assert len(edges) == (N - 1) * VERSIONS  # every project but the first requires one other
    assert len({(e["from"], e["to"]) for e in edges}) == len(edges)
