"""`ssc status`: freshness per dataset with the clock injected, never slept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ssc_cli.graph.interface import GraphStore
from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem
from ssc_cli.quality import freshness
from ssc_cli.quality.freshness import NEVER, OK, STALE
from ssc_cli.settings import load_settings
from tests.conftest import Ssc
from tests.graph_stores import KINDS, PYPI, open_store, wipe_real_neo4j
from tests.quality.test_metrics import value

NUGET = Ecosystem.NUGET


@pytest.fixture(params=KINDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GraphStore]:
    made = open_store(request.param, tmp_path, monkeypatch)
    yield made
    made.close()
    if request.param == "neo4j":
        wipe_real_neo4j()


def _finished(
    store: GraphStore, job: str, eco: Ecosystem | None, status: str, **summary: object
) -> None:
    run_id = store.start_run(job, eco)
    store.finish_run(run_id, status, summary)


def _rows(store: GraphStore, now: datetime, **env: str) -> dict[str, freshness.StatusRow]:
    settings = load_settings(None, **env)
    rows = freshness.status_rows(store, settings, [PYPI, NUGET], now=now)
    return {row.dataset: row for row in rows}


def test_one_stale_and_one_fresh_dataset(store: GraphStore) -> None:
    _finished(store, "update", NUGET, "ok")
    _finished(store, "licenses-sync", None, "ok")
    later = datetime.now(UTC) + timedelta(days=3)
    rows = _rows(store, later)
    update, licenses = rows["update nuget"], rows["licenses-sync"]
    assert update.state == STALE and update.threshold_seconds == 48 * 3600
    assert licenses.state == OK and licenses.threshold_seconds == 10 * 86400
    assert 3 * 86400 - 5 <= update.age_seconds <= 3 * 86400 + 5  # type: ignore[operator]
    assert rows["update pypi"].state == NEVER and rows["update pypi"].age_seconds is None
    assert rows["drain-queue"].state == NEVER

    # The same store an hour later is fresh everywhere; a per-registry threshold wins.
    soon = datetime.now(UTC) + timedelta(hours=1)
    assert _rows(store, soon)["update nuget"].state == OK
    assert _rows(store, soon, freshness_update_nuget="30m")["update nuget"].state == STALE
    assert _rows(store, later, freshness_update="0")["update nuget"].state == OK  # no threshold


def test_last_failure_and_its_reason_beside_the_last_success(store: GraphStore) -> None:
    _finished(store, "update", NUGET, "ok")
    failures = [{"package": "broken.pkg", "reason": "malformed leaf"}]
    _finished(store, "update", NUGET, "failed", errors=1, failures=failures)
    _finished(store, "update", NUGET, "aborted", error="nuget registry unreachable")
    store.mark(NUGET, ["waiting.one", "waiting.two"], "pending")
    row = _rows(store, datetime.now(UTC))["update nuget"]
    assert row.state == OK and row.last_run_status == "aborted"
    assert row.last_failure_reason == "nuget registry unreachable"
    assert row.pending == 2
    _finished(store, "update", NUGET, "failed", errors=1, failures=failures)
    row = _rows(store, datetime.now(UTC))["update nuget"]
    assert row.last_failure_reason == "1 packages failed; first: broken.pkg: malformed leaf"
    assert row.last_success == row.last_failure  # a run with recorded failures still refreshed


def test_rows_of_jobs_that_ran_are_added(store: GraphStore) -> None:
    _finished(store, "rebuild", NUGET, "ok")
    _finished(store, "classify", PYPI, "ok")
    rows = _rows(store, datetime.now(UTC) + timedelta(days=30))
    assert rows["rebuild nuget"].state == OK and rows["rebuild nuget"].threshold_seconds is None
    assert rows["classify pypi"].state == STALE
    assert rows["classify"].state == STALE  # every classify run counts for the job's row


def _age_runs(path: Path, days: int) -> None:
    store = SqliteStore(path)
    store.migrate()
    for job, eco in (("update", NUGET), ("ingest", NUGET)):
        store.start_run(job, eco)
    old = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    store._db.execute("UPDATE runs SET status = 'ok', finished_at = ? WHERE job = 'update'", (old,))
    store._db.execute(
        "UPDATE runs SET status = 'ok', finished_at = ? WHERE job = 'ingest'",
        (datetime.now(UTC).isoformat(timespec="seconds"),),
    )
    store.close()


def test_the_command_exits_0_or_3_with_strict(ssc: Ssc, tmp_path: Path) -> None:
    _age_runs(tmp_path / "graph.sqlite", days=3)
    report = ssc.json("status")
    assert report["stale"] == ["update nuget"] and report["exit_code"] == 0
    rows = {row["dataset"]: row for row in report["datasets"]}
    assert rows["ingest nuget"]["state"] == "ok"
    assert abs(rows["update nuget"]["age_seconds"] - 3 * 86400) < 120
    strict = ssc.json("status", "--strict", expect=3)
    assert strict["exit_code"] == 3
    table = ssc("status", "--strict", expect=3, env={"SSC_METRICS_DIR": str(tmp_path / "m")})
    assert "update nuget" in table.stdout and "stale" in table.stdout
    assert "1 stale (update nuget)" in table.stderr
    prom = tmp_path / "m" / "ssc_status.prom"
    assert value(prom, "ssc_status_stale", command="update", ecosystem="nuget") == 1
    assert value(prom, "ssc_status_stale", command="ingest", ecosystem="nuget") == 0
    assert (
        value(prom, "ssc_status_freshness_threshold_seconds", command="update", ecosystem="nuget")
        == 172800
    )
