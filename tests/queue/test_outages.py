"""drain-queue through outages: a registry that is down spends no attempts; Redis that goes away
is reconnected to for SSC_QUEUE_RECONNECT_SECONDS, then exit 5."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry, Faults
from tests.queue.redis_server import RestartableRedis, extracted_count

STREAM, GROUP, DLQ = "package-extraction", "extractors", "package-extraction-dlq"


@pytest.fixture
def app(fake_registry: FakeRegistry) -> pypi.PyPIApp:
    registry = pypi.synthetic(30, versions=2, deps=1, wheels=False)
    fake_registry.mount("pypi", registry)
    return registry


def _deliveries(client: redis.Redis) -> list[int]:
    rows = client.xpending_range(STREAM, GROUP, min="-", max="+", count=100)
    return sorted(int(row["times_delivered"]) for row in rows)


def test_a_registry_outage_spends_no_attempts_and_dead_letters_nothing(
    qssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry, redis_client: redis.Redis
) -> None:
    qssc("enqueue", "pypi", "pkg-00001", "pkg-00002", "pkg-00003")
    fake_registry.faults = Faults(always={"": 503})  # every URL, the probe's included
    args = ("drain-queue", "--until-empty", "--no-follow-deps", "--json")
    for _run in range(4):  # more runs than SSC_QUEUE_MAX_ATTEMPTS (3)
        result = qssc(*args, expect=4, env={"SSC_HTTP_RETRIES": "0"})
        assert "registry unreachable" in result.stderr
        assert redis_client.xlen(DLQ) == 0
        assert _deliveries(redis_client) == [0, 0, 0]  # every attempt given back
    fake_registry.faults = Faults()
    summary = qssc.json(*args[:-1])
    assert summary["successful"] == 3 and summary["dead_lettered"] == 0
    assert redis_client.xinfo_groups(STREAM)[0]["pending"] == 0 and redis_client.xlen(DLQ) == 0


def test_a_package_failing_while_its_registry_is_up_still_spends_its_attempts(
    qssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry, redis_client: redis.Redis
) -> None:
    # The probe (/simple/) answers: one broken package is not an outage.
    fake_registry.faults = Faults(always={r"^/pypi/pypi/pkg-00004/": 503})
    qssc("enqueue", "pypi", "pkg-00004")
    result = qssc("drain-queue", "--until-empty", "--no-follow-deps", "--json", expect=1)
    summary = json.loads(result.stdout)
    assert summary["dead_lettered"] == 1 and summary["deferred"] == 0
    [letter] = [fields for _id, fields in redis_client.xrange(DLQ)]
    assert letter["reason"] == "failed" and letter["attempts"] == "3"


@pytest.fixture
def own_redis(redis_server: str, tmp_path: Path) -> Iterator[RestartableRedis]:
    server = RestartableRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _wait(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert process.poll() is None, f"drain-queue ended before {what}: {process.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_worker_rides_out_a_redis_restart(
    qssc: Ssc,
    app: pypi.PyPIApp,
    fake_registry: FakeRegistry,
    own_redis: RestartableRedis,
    tmp_path: Path,
) -> None:
    env: dict[str, str | None] = {"SSC_REDIS_URL": own_redis.url}
    names = tmp_path / "names.txt"
    names.write_text("".join(f"pkg-{i:05d}\n" for i in range(30)))
    qssc("enqueue", "pypi", "--file", str(names), env=env)
    fake_registry.latency = 0.05
    worker = qssc.popen(
        "drain-queue", "--until-empty", "--no-follow-deps", "--batch", "2", "--json", env=env
    )
    _wait(lambda: extracted_count(qssc.graph_uri) >= 4, worker, "a few batches")
    own_redis.stop()
    time.sleep(2.0)  # an outage of a couple of seconds; the worker keeps trying meanwhile
    own_redis.start()
    out, err = worker.communicate(timeout=300)
    assert worker.returncode == 0, err
    assert "reconnecting in" in err and "Redis is back" in err
    summary = json.loads(out)
    assert summary["dead_lettered"] == 0
    assert extracted_count(qssc.graph_uri) == 30
    client = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        assert client.xinfo_groups(STREAM)[0]["pending"] == 0 and client.xlen(DLQ) == 0
    finally:
        client.close()


def test_a_worker_gives_up_after_the_reconnect_window(
    qssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry, own_redis: RestartableRedis
) -> None:
    env: dict[str, str | None] = {
        "SSC_REDIS_URL": own_redis.url,
        "SSC_QUEUE_RECONNECT_SECONDS": "3",
    }
    worker = qssc.popen("drain-queue", "--block-ms", "200", "--json", env=env)
    client = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        _wait(
            lambda: bool(client.exists(STREAM)) and bool(client.xinfo_consumers(STREAM, GROUP)),
            worker,
            "the worker to join the group",
        )
    finally:
        client.close()
    own_redis.stop()
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 5, err
    assert "still down after" in err and "SSC_QUEUE_RECONNECT_SECONDS" in err
    assert json.loads(out.splitlines()[-1])["exit_code"] == 5
