"""drain-queue end to end: the real command, a real redis-server, the fake PyPI over HTTP."""

from __future__ import annotations

import json
import signal
import time

import pytest
import redis

from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem
from tests.conftest import Ssc, without_run_record
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry, Faults

PYPI = Ecosystem.PYPI

STREAM, DLQ = "package-extraction", "package-extraction-dlq"


@pytest.fixture
def app(fake_registry: FakeRegistry) -> pypi.PyPIApp:
    registry = pypi.synthetic(40, versions=3, deps=2)
    fake_registry.mount("pypi", registry)
    return registry


def _dead(client: redis.Redis) -> list[dict[str, str]]:
    return [fields for _id, fields in client.xrange(DLQ)]


def test_drain_follows_dependencies_like_ingest(
    qssc: Ssc, app: pypi.PyPIApp, redis_client: redis.Redis, tmp_path
) -> None:
    out = qssc.json("enqueue", "pypi", "pkg-00039", "PKG_00020")
    assert out["ecosystem"] == "pypi"  # the run record's, and the summary's own before it
    assert without_run_record(out) == {"enqueued": 2, "stream": STREAM}
    summary = qssc.json("drain-queue", "--until-empty")
    assert summary["failed"] == 0 and summary["dead_lettered"] == 0
    assert summary["dependencies_enqueued"] > 0
    assert summary["total_processed"] == 2 + summary["dependencies_enqueued"]
    assert summary["success_rate"] == 100.0 and summary["stopped"] == "empty"
    # One code path: the graph equals what `ingest --names-from` builds from the same roots.
    roots = tmp_path / "roots.txt"
    roots.write_text("pkg-00039\npkg-00020\n")
    other = qssc.with_graph("ingest.sqlite")
    other("ingest", "pypi", "--names-from", str(roots))
    drained = qssc.export()
    assert drained == other.export()
    assert not any(i["type"] == "package" and i["status"] != "extracted" for i in drained)
    info = redis_client.xinfo_groups(STREAM)[0]
    assert info["name"] == "extractors" and info["pending"] == 0
    # A second request for a package the graph has is acked without fetching it again.
    qssc("enqueue", "pypi", "pkg-00039")
    again = qssc.json("drain-queue", "--until-empty")
    assert again["already_present"] == 1 and again["extracted"] == 0
    assert qssc.export() == drained


def test_poison_messages_are_dead_lettered_after_their_attempts(
    qssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry, redis_client: redis.Redis
) -> None:
    fake_registry.faults = Faults(always={r"^/pypi/pypi/pkg-00005/": 500})
    redis_client.xadd(STREAM, {"data": "{not json"})
    redis_client.xadd(
        STREAM, {"data": json.dumps({"node_type": "GoPackage", "package": "github.com/x/y"})}
    )
    redis_client.xadd(STREAM, {"payload": "no data field"})
    redis_client.xadd(STREAM, {"data": json.dumps({"node_type": "PyPIPackage"})})
    qssc("enqueue", "pypi", "pkg-00001", "pkg-00005", "pkg-00002", "pkg-00003")
    result = qssc("drain-queue", "--until-empty", "--no-follow-deps", "--json", expect=1)
    summary = json.loads(result.stdout)
    assert summary["validation_errors"] == 3 and summary["unsupported_types"] == 1
    assert summary["successful"] == 3 and summary["dead_lettered"] == 5
    # pkg-00005 was delivered three times (SSC_QUEUE_MAX_ATTEMPTS defaults to 3), reclaimed twice.
    assert summary["failed"] == 3 and summary["retry_later"] == 2 and summary["reclaimed"] == 2
    assert summary["failures"][0]["package"] == "pkg-00005"
    dead = _dead(redis_client)
    by_reason: dict[str, list[dict[str, str]]] = {}
    for letter in dead:
        by_reason.setdefault(letter["reason"], []).append(letter)
    assert sorted(by_reason) == [
        "failed",
        "invalid_json",
        "invalid_message",
        "no_data",
        "unsupported_type",
    ]
    failed = by_reason["failed"][0]
    assert json.loads(failed["data"])["package"] == "pkg-00005"
    assert failed["attempts"] == "3" and "500" in failed["error"]
    assert by_reason["invalid_json"][0]["data"] == "{not json"
    assert "package" in by_reason["invalid_message"][0]["error"]
    assert json.loads(by_reason["no_data"][0]["fields"]) == {"payload": "no data field"}
    assert "GoPackage" in by_reason["unsupported_type"][0]["error"]
    # The rest of the batch went through; nothing is left pending.
    statuses = {i["name"]: i["status"] for i in qssc.export() if i["type"] == "package"}
    assert {n: statuses[n] for n in ("pkg-00001", "pkg-00002", "pkg-00003")} == dict.fromkeys(
        ("pkg-00001", "pkg-00002", "pkg-00003"), "extracted"
    )
    assert statuses.get("pkg-00005") != "extracted"
    assert redis_client.xinfo_groups(STREAM)[0]["pending"] == 0
    stats = qssc.json("queue", "stats")
    assert stats["dead_letter_length"] == 5 and stats["groups"][0]["pending"] == 0
    # Once the registry is fixed, retry-dead puts the failed one back and it succeeds; the
    # invalid ones stay, since they would only be rejected again.
    fake_registry.faults = Faults()
    moved = qssc.json("queue", "retry-dead")
    assert without_run_record(moved) == {
        "moved": 1,
        "kept": 4,
        "kept_reasons": {
            "invalid_json": 1,
            "invalid_message": 1,
            "no_data": 1,
            "unsupported_type": 1,
        },
    }
    retried = qssc.json("drain-queue", "--until-empty", "--no-follow-deps")
    assert retried["successful"] == 1 and retried["extracted"] == 1
    assert retried["dead_lettered"] == 0
    # --include-invalid moves the rest that has data; they come back as dead letters.
    forced = qssc.json("queue", "retry-dead", "--include-invalid")
    assert without_run_record(forced) == {"moved": 3, "kept": 1, "kept_reasons": {"no_data": 1}}
    again = qssc.json("drain-queue", "--until-empty", "--no-follow-deps")
    assert again["dead_lettered"] == 3  # still invalid: back in the dead-letter stream
    reasons = sorted(letter["reason"] for letter in _dead(redis_client))
    assert reasons == ["invalid_json", "invalid_message", "no_data", "unsupported_type"]


def test_depex_messages_link_requirement_files_and_versions(
    qssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry, redis_client: redis.Redis, tmp_path
) -> None:
    names = tmp_path / "one.txt"
    names.write_text("pkg-00001\n")
    qssc("ingest", "pypi", "--names-from", str(names), "--no-follow-deps")
    store = SqliteStore.from_uri(qssc.graph_uri)
    try:
        rf = store.add_requirement_file("requirements.txt", "PyPI")
        version = store.version_ids(PYPI, ["pkg:pypi/pkg-00001@2.1.0"])["pkg:pypi/pkg-00001@2.1.0"]
    finally:
        store.close()
    fetched_before = len(fake_registry.requests("/pypi/pkg-00001/"))

    def depex(package: str, parent_id: str, **extra: object) -> None:
        # What depex's repository_initializer sends: model_dump(mode="json") of its schema.
        body = {
            "node_type": "PyPIPackage",
            "package": package,
            "vendor": "n/a",
            "repository_url": None,
            "constraints": ">= 1.0",
            "parent_id": parent_id,
            "parent_version": None,
            "refresh": False,
            "moment": "2025-06-01T10:00:00.123456",
        }
        body.update(extra)
        redis_client.xadd(STREAM, {"data": json.dumps(body)})

    depex("pkg-00001", rf)  # already in the graph: only the edge
    depex("pkg-00002", rf, repository_url="n/a")
    depex("PKG.00003", version, parent_version_name="pkg:pypi/pkg-00001", constraints="< 9")
    depex("pkg-00004", "4:00000000-0000-0000-0000-000000000000:99")  # a parent that does not exist
    summary = qssc.json("drain-queue", "--until-empty", "--no-follow-deps")
    assert summary["successful"] == 4 and summary["dead_lettered"] == 0
    assert summary["already_present"] == 1 and summary["extracted"] == 3
    assert summary["unknown_parents"] == 1
    assert len(fake_registry.requests("/pypi/pkg-00001/")) == fetched_before
    store = SqliteStore.from_uri(qssc.graph_uri)
    try:
        assert store.parent_edges(rf) == [
            {"to": "pkg:pypi/pkg-00001", "constraints": ">= 1.0", "parent_version_name": None},
            {"to": "pkg:pypi/pkg-00002", "constraints": ">= 1.0", "parent_version_name": None},
        ]
        edges = {e["to"]: e for e in store.parent_edges(version)}
    finally:
        store.close()
    assert edges["pkg:pypi/pkg-00003"] == {
        "to": "pkg:pypi/pkg-00003",
        "constraints": "< 9",
        "parent_version_name": "pkg:pypi/pkg-00001",
    }
    statuses = {i["name"]: i["status"] for i in qssc.export() if i["type"] == "package"}
    assert statuses["pkg-00003"] == statuses["pkg-00004"] == "extracted"


def test_sigterm_finishes_the_batch_in_hand_and_exits_zero(
    qssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry, redis_client: redis.Redis
) -> None:
    fake_registry.latency = 0.4
    qssc("enqueue", "pypi", "pkg-00001", "pkg-00002", "pkg-00003")
    worker = qssc.popen("drain-queue", "--no-follow-deps", "--json")  # a long-running worker
    deadline = time.monotonic() + 30
    while not fake_registry.requests("/pypi/pypi/pkg-0000"):
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.02)
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    summary = json.loads(out)
    assert summary["stopped"] == "signal" and summary["successful"] == 3
    assert redis_client.xinfo_groups(STREAM)[0]["pending"] == 0
    # And a worker idle in XREADGROUP BLOCK stops at once too.
    idle = qssc.popen("drain-queue", "--block-ms", "60000", "--json")
    deadline = time.monotonic() + 60
    while not redis_client.xinfo_consumers(STREAM, "extractors"):  # it is in XREADGROUP
        assert time.monotonic() < deadline and idle.poll() is None
        time.sleep(0.05)
    started = time.monotonic()
    idle.send_signal(signal.SIGINT)
    out, err = idle.communicate(timeout=30)
    assert idle.returncode == 0, err
    assert time.monotonic() - started < 10 and json.loads(out)["stopped"] == "signal"


def test_unreachable_redis_exits_5(qssc: Ssc, app: pypi.PyPIApp) -> None:
    env: dict[str, str | None] = {"SSC_REDIS_URL": "redis://127.0.0.1:1/0"}
    for args in (("drain-queue", "--until-empty"), ("enqueue", "pypi", "x"), ("queue", "stats")):
        result = qssc(*args, expect=5, env=env)
        assert "Redis at redis://127.0.0.1:1/0 unreachable" in result.stderr
    result = qssc("drain-queue", expect=5, env={"SSC_REDIS_URL": None})
    assert "no Redis configured" in result.stderr


def test_ingest_enqueue_fans_out_to_workers(
    qssc: Ssc, app: pypi.PyPIApp, redis_client: redis.Redis
) -> None:
    qssc("ingest", "pypi", "--limit", "5", "--no-follow-deps")
    out = qssc.json("ingest", "pypi", "--enqueue")
    assert out["total_in_registry"] == 40 and out["skipped_existing"] == 5
    assert out["enqueued"] == 35 and out["listing_complete"]
    assert redis_client.xlen(STREAM) == 35
    names = {json.loads(f["data"])["package"] for _id, f in redis_client.xrange(STREAM)}
    assert len(names) == 35 and all(n.startswith("pkg-") for n in names)
    workers = [qssc.popen("drain-queue", "--until-empty", "--json") for _ in range(2)]
    summaries = [json.loads(w.communicate(timeout=120)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    assert sum(s["extracted"] for s in summaries) >= 35
    fresh = qssc.with_graph("fresh.sqlite")
    fresh("ingest", "pypi")
    assert qssc.export() == fresh.export()
    # acknowledged entries are trimmed (MINID up to what the group still needs)
    assert redis_client.xlen(STREAM) < 35


def test_max_messages_then_refresh_refetches(
    qssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry, redis_client: redis.Redis
) -> None:
    qssc("enqueue", "pypi", "pkg-00001", "pkg-00002", "pkg-00003")
    first = qssc.json("drain-queue", "--max-messages", "2", "--no-follow-deps", "--batch", "1")
    assert first["total_processed"] == 2 and first["stopped"] == "max-messages"
    assert redis_client.xinfo_groups(STREAM)[0]["lag"] == 1  # the third is still on the stream
    qssc.json("drain-queue", "--until-empty", "--no-follow-deps")
    app.release("pkg-00001", "9.0.0", requires_dist=[])
    fetched = len(fake_registry.requests("/pypi/pkg-00001/json"))
    qssc("enqueue", "pypi", "pkg-00001")  # without refresh: present, not refetched
    assert qssc.json("drain-queue", "--until-empty")["already_present"] == 1
    assert len(fake_registry.requests("/pypi/pkg-00001/json")) == fetched
    qssc("enqueue", "pypi", "pkg-00001", "--refresh")
    refreshed = qssc.json("drain-queue", "--until-empty", "--no-follow-deps")
    assert refreshed["extracted"] == 1
    shown = qssc.json("graph", "show", "pypi", "pkg-00001")
    assert "9.0.0" in {v["name"] for v in shown["versions"]}
    stats = qssc.json("queue", "stats")
    assert stats["length"] == 0 and stats["groups"][0]["pending"] == 0
    # Every run was its own <host>-<pid> consumer, and each left the group when done.
    assert stats["groups"][0]["consumers"] == []


def test_drain_attributes_the_versions_it_writes(
    qssc: Ssc, app: pypi.PyPIApp, redis_client: redis.Redis, tmp_path
) -> None:
    record = {
        "id": "GHSA-q",
        "modified": "2024-01-01T00:00:00Z",
        "aliases": ["CVE-7"],
        "affected": [{"package": {"ecosystem": "PyPI", "name": "PKG_00039"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}]}]}],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    }  # fmt: skip
    (tmp_path / "a.json").write_text(json.dumps(record))
    qssc.json("vulns", "sync", str(tmp_path / "a.json"))
    qssc.json("enqueue", "pypi", "pkg-00039")
    summary = qssc.json("drain-queue", "--until-empty", "--no-follow-deps")
    assert summary["vulnerabilities"]["vulnerable_versions"] == 2
    versions = {
        v["name"]: v
        for v in qssc.export()
        if v["type"] == "version" and v["package"] == "pkg:pypi/pkg-00039"
    }
    assert (versions["1.0.0"]["vulnerabilities"], versions["1.0.0"]["mean"]) == (
        ["CVE-7", "GHSA-q"],
        9.8,
    )
    assert versions["0.0.0"]["vulnerabilities"] == []
    assert versions["0.0.0"]["unscored_vulnerabilities"] == 0  # checked, not just unattributed
