"""The job lock across pods sharing one Neo4j graph: a lease node in the graph (ssc_cli/lock.py).

Each "pod" is an `ssc` process with its own SSC_DATA_DIR, so the file lock cannot see the other;
only the `SscJobLease` node in the shared graph keeps them apart. Against the real server.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.graph.neo4j import Neo4jStore
from ssc_cli.graph.neo4j_lease import LeaseState
from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry
from tests.real_servers import neo4j_target

# A slow ingest: one package at a time, each request delayed, so it holds its lease for seconds.
SLOW_INGEST = ("ingest", "pypi", "--limit", "4", "--no-follow-deps", "--concurrency", "1")
_ADVISORY = {
    "id": "PYSEC-0000-1",
    "modified": "2024-01-01T00:00:00Z",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "pkg-00001"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}],
        }
    ],
}


@pytest.fixture
def graph() -> Iterator[Neo4jStore]:
    target = neo4j_target()
    store = Neo4jStore(target.uri, target.user, target.password, database=target.database)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def pods(ssc: Ssc, fake_registry: FakeRegistry, tmp_path: Path) -> tuple[Ssc, Ssc]:
    """Two runners on the one Neo4j graph, each with its own data directory."""
    fake_registry.mount("pypi", pypi.synthetic(12, versions=2, deps=1))
    target = neo4j_target()
    env = {**ssc.env, "SSC_GRAPH_URI": target.uri, "SSC_GRAPH_USER": target.user}
    if target.password:
        env["SSC_GRAPH_PASSWORD"] = target.password
    if target.database:
        env["SSC_GRAPH_DATABASE"] = target.database
    a = Ssc(tmp_path, {**env, "SSC_DATA_DIR": str(tmp_path / "pod-a")})
    b = Ssc(tmp_path, {**env, "SSC_DATA_DIR": str(tmp_path / "pod-b")})
    return a, b


def _query(store: Neo4jStore, text: str, **params: Any) -> list[dict[str, Any]]:
    return store._write("test query", lambda tx: tx.run(text, params).data())


def _lease(store: Neo4jStore, job: str) -> dict[str, Any] | None:
    rows = _query(
        store,
        "MATCH (l:SscJobLease {job: $job}) RETURN l.holder AS holder, "
        "toString(l.expires_at) AS expires_at, "
        "duration.inSeconds(datetime(), l.expires_at).milliseconds AS remaining_ms",
        job=job,
    )
    return rows[0] if rows else None


def _runs(store: Neo4jStore) -> int:
    return int(_query(store, "MATCH (r:SscRun) RETURN count(r) AS n")[0]["n"])


def _wait_for_lease(store: Neo4jStore, job: str, process: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lease = _lease(store, job)
        if lease is not None:
            return lease
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"no lease for {job}")


@pytest.mark.neo4j
def test_a_second_pod_exits_75_while_the_first_holds_and_renews_the_lease(
    pods: tuple[Ssc, Ssc], fake_registry: FakeRegistry, graph: Neo4jStore
) -> None:
    a, b = pods
    ttl = {"SSC_LOCK_TTL": "2"}
    fake_registry.latency = 1.0
    first = a.popen(*SLOW_INGEST, env=ttl)
    taken = _wait_for_lease(graph, "ingest-pypi", first)
    time.sleep(5)  # two and a half TTLs: without renewal the lease would have expired by now
    assert first.poll() is None, "the first run ended too early to show the renewal"
    renewed = _lease(graph, "ingest-pypi")
    assert renewed is not None and renewed["holder"] == taken["holder"]
    assert renewed["expires_at"] > taken["expires_at"]
    runs = _runs(graph)

    second = b(*SLOW_INGEST, expect=75, env=ttl)
    assert "another `ssc ingest pypi` holds the job lease in the graph" in second.stderr
    assert taken["holder"] in second.stderr and "expires" in second.stderr
    assert second.stdout == "" and _runs(graph) == runs  # it did not even record a run

    advisory = b.home / "osv" / "PYSEC-0000-1.json"  # another job runs meanwhile
    advisory.parent.mkdir()
    advisory.write_text(json.dumps(_ADVISORY), encoding="utf-8")
    other = b.json("vulns", "sync", str(advisory.parent), env=ttl)
    assert other["records_loaded"] == 1
    assert first.poll() is None

    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert _lease(graph, "ingest-pypi") is None  # released on exit
    fake_registry.latency = 0.0
    b("ingest", "pypi", "--limit", "2", "--no-follow-deps", env=ttl)  # at once, from the other pod


@pytest.mark.neo4j
def test_a_killed_holder_blocks_the_job_until_its_lease_expires(
    pods: tuple[Ssc, Ssc], fake_registry: FakeRegistry, graph: Neo4jStore
) -> None:
    a, b = pods
    ttl = {"SSC_LOCK_TTL": "6"}  # renewed every 2 s: at least 4 s left when it is killed
    fake_registry.latency = 1.0
    first = a.popen(*SLOW_INGEST, env=ttl)
    _wait_for_lease(graph, "ingest-pypi", first)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    fake_registry.latency = 0.0

    refused = b("ingest", "pypi", "--limit", "2", "--no-follow-deps", expect=75, env=ttl)
    assert "holds the job lease" in refused.stderr
    lease = _lease(graph, "ingest-pypi")
    assert lease is not None  # the dead run's, until it expires
    time.sleep(max(0, lease["remaining_ms"]) / 1000 + 0.2)
    b("ingest", "pypi", "--limit", "2", "--no-follow-deps", env=ttl)  # expired: taken over
    assert _lease(graph, "ingest-pypi") is None


@pytest.mark.neo4j
def test_a_run_whose_lease_is_taken_stops_with_75(
    pods: tuple[Ssc, Ssc], fake_registry: FakeRegistry, graph: Neo4jStore
) -> None:
    a, _ = pods
    fake_registry.latency = 1.0
    first = a.popen(*SLOW_INGEST, "--json", env={"SSC_LOCK_TTL": "2"})
    _wait_for_lease(graph, "ingest-pypi", first)
    # As if this run had been paused past its expiry and another pod had taken the lease.
    _query(graph, "MATCH (l:SscJobLease {job: 'ingest-pypi'}) SET l.holder = 'elsewhere/1/x'")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 75, err
    assert "job lease of `ssc ingest pypi`" in err and "taken by elsewhere/1/x" in err
    assert json.loads(out)["stopped"] == "lease-lost"
    lease = _lease(graph, "ingest-pypi")
    assert lease is not None and lease["holder"] == "elsewhere/1/x"  # not released: not ours


@pytest.mark.neo4j
def test_concurrent_acquires_of_one_job_have_one_winner(graph: Neo4jStore) -> None:
    graph.ensure_lease_schema()
    n = 8
    barrier = threading.Barrier(n)
    results: dict[str, LeaseState] = {}

    def take(holder: str) -> None:
        barrier.wait()
        results[holder] = graph.acquire_lease("update-npm", holder, 30)

    threads = [threading.Thread(target=take, args=(f"pod-{i}",)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [h for h, state in results.items() if state.held]
    assert len(winners) == 1 and len(results) == n
    assert {state.holder for state in results.values()} == set(winners)
    count = _query(graph, "MATCH (l:SscJobLease) RETURN count(l) AS n")[0]["n"]
    assert count == 1
    graph.release_lease("update-npm", "pod-not-the-winner")  # not ours: left alone
    assert _lease(graph, "update-npm") is not None
    assert graph.renew_lease("update-npm", winners[0], 30).held
    graph.release_lease("update-npm", winners[0])
    assert _lease(graph, "update-npm") is None


@pytest.mark.parametrize("ttl", ["0", "-5", "soon"])
def test_a_bad_lock_ttl_is_a_configuration_error(ssc: Ssc, ttl: str) -> None:
    result = ssc("vulns", "sync", str(ssc.home), expect=2, env={"SSC_LOCK_TTL": ttl})
    assert "SSC_LOCK_TTL" in result.stderr
