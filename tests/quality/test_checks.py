"""Every graph check on a store built to fail it and on one built to pass it, on every store kind."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.errors import QualityGateError
from ssc_cli.graph.interface import GraphStore
from ssc_cli.models import Ecosystem
from ssc_cli.quality import checks, gate
from ssc_cli.quality.checks import CheckContext, Thresholds
from ssc_cli.quality.results import CheckResult
from ssc_cli.settings import Settings
from tests.graph_stores import KINDS, NPM, PYPI, open_store, pkg, req, run_sql, ver, wipe_real_neo4j

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


def _check(store: GraphStore, name: str, eco: Ecosystem = PYPI, **limits: Any) -> CheckResult:
    ctx = CheckContext(store, Thresholds(**limits))
    [spec] = [s for s in checks.GRAPH_CHECKS if s.name == name]
    assert spec.measure is not None
    return spec.measure(ctx, spec, eco)


def _healthy(store: GraphStore) -> None:
    store.write_packages(
        [
            pkg("requests", [ver("1.0.0", [req("urllib3")]), ver("2.0.0", [req("urllib3")])]),
            pkg("urllib3", [ver("1.26.0", [])]),
        ]
    )


def _run(
    store: GraphStore, job: str, eco: Ecosystem | None, counts: dict[str, dict[str, int]]
) -> int:
    run_id = store.start_run(job, eco)
    store.finish_run(run_id, "ok", {"graph_counts": counts})
    return run_id


# -- packages_nonempty ----------------------------------------------------------------------


def test_packages_nonempty_fails_on_an_ecosystem_without_extracted_packages(
    store: GraphStore,
) -> None:
    store.mark(NUGET, ["only.pending"], "pending")
    result = _check(store, "packages_nonempty", NUGET)
    assert not result.passed and result.blocking and result.severity == "ERROR"
    assert result.measured == 0 and result.threshold == 1
    assert "ssc ingest nuget" in result.message


def test_packages_nonempty_does_not_block_an_ecosystem_never_loaded(store: GraphStore) -> None:
    """The shipped schedules run every update daily while the bulk loads stay suspended (as the
    seed's): an update of an ecosystem nobody has ingested is no ingest that wrote nothing, and
    must not stop classify and attribution for the ecosystems that are loaded (issue 14)."""
    _run(store, "update", NUGET, {"nuget": {"packages": 0}})
    result = _check(store, "packages_nonempty", NUGET)
    assert result.passed and result.measured == 0
    assert "not loaded" in result.message and "ssc ingest nuget" in result.message
    # Once an ingest has run, nothing extracted is the failure it always was.
    _run(store, "ingest", NUGET, {"nuget": {"packages": 0}})
    assert not _check(store, "packages_nonempty", NUGET).passed


@pytest.mark.parametrize("eco", list(Ecosystem), ids=lambda e: e.value)
def test_packages_nonempty_names_settings_that_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, eco: Ecosystem
) -> None:
    """What an operator is told to check is a setting they can set (crates.io has three URL
    settings and none called SSC_CARGO_URL)."""
    made = open_store("sqlite", tmp_path, monkeypatch)
    try:
        _run(made, "ingest", eco, {eco.value: {"packages": 0}})
        result = _check(made, "packages_nonempty", eco)
    finally:
        made.close()
    assert not result.passed
    for name in re.findall(r"SSC_[A-Z0-9_]+", result.message):
        assert name[4:].lower() in Settings.model_fields, name
    assert f"ssc doctor --ecosystem {eco.value}" in result.message


def test_packages_nonempty_passes_once_a_package_is_extracted(store: GraphStore) -> None:
    _healthy(store)
    result = _check(store, "packages_nonempty")
    assert result.passed and result.measured == 2
    assert not _check(store, "packages_nonempty", min_packages=3).passed


def test_graph_counts_are_per_ecosystem(store: GraphStore) -> None:
    _healthy(store)
    store.write_packages([pkg("left-pad", [ver("1.0.0", [req("other")])], eco=NPM)])
    assert store.graph_counts(PYPI) == {
        "packages": 2,
        "pending": 0,
        "missing": 0,
        "versions": 3,
        "edges": 2,
    }
    assert store.graph_counts(NPM) == {
        "packages": 1,
        "pending": 1,
        "missing": 0,
        "versions": 1,
        "edges": 1,
    }
    assert store.graph_counts(NUGET) == dict.fromkeys(
        ("packages", "pending", "missing", "versions", "edges"), 0
    )


# -- regression -----------------------------------------------------------------------------


def test_regression_warns_when_versions_dropped_since_the_last_completed_run(
    store: GraphStore,
) -> None:
    _healthy(store)
    _run(store, "update", PYPI, {"pypi": {"packages": 2, "versions": 10, "edges": 2}})
    result = _check(store, "regression")
    assert not result.passed and result.severity == "WARN" and not result.blocking
    assert result.measured == 0.7  # 10 -> 3 versions
    assert "versions 10 -> 3" in result.message


def test_regression_passes_within_the_share_and_ignores_aborted_runs(store: GraphStore) -> None:
    _healthy(store)
    _run(store, "ingest", PYPI, {"pypi": {"packages": 2, "versions": 3, "edges": 2}})
    aborted = store.start_run("update", PYPI)
    store.finish_run(aborted, "aborted", {"graph_counts": {"pypi": {"versions": 1000}}})
    _run(store, "update", NPM, {"npm": {"packages": 99, "versions": 99, "edges": 99}})
    result = _check(store, "regression")
    assert result.passed and result.measured == 0.0
    assert _check(store, "regression", regression_share=0.5).passed


def test_regression_without_an_earlier_run_passes(store: GraphStore) -> None:
    _healthy(store)
    assert _check(store, "regression").passed


# -- pending_growth -------------------------------------------------------------------------


def _pending_runs(store: GraphStore, series: list[int]) -> None:
    for pending in series:
        _run(store, "ingest", PYPI, {"pypi": {"packages": 1, "pending": pending}})


def test_pending_growth_warns_after_n_growing_runs(store: GraphStore) -> None:
    _pending_runs(store, [5, 1, 2, 3, 4])
    result = _check(store, "pending_growth", backlog_runs=3)
    assert not result.passed and result.measured == 3
    assert "1 -> 2 -> 3 -> 4" in result.message


def test_pending_growth_passes_when_the_backlog_shrank_once(store: GraphStore) -> None:
    _pending_runs(store, [1, 2, 4, 3, 5])
    result = _check(store, "pending_growth", backlog_runs=3)
    assert result.passed and result.measured == 1


def test_pending_growth_in_the_hook_counts_the_run_being_checked(store: GraphStore) -> None:
    _pending_runs(store, [0, 1, 2])
    store.mark(PYPI, ["a", "b", "c"], "pending")
    run_id = store.start_run("ingest", PYPI)
    ctx = CheckContext(store, Thresholds(backlog_runs=3), run_id=run_id)
    [result] = [
        r for r in checks.graph_checks(ctx, [PYPI], cheap_only=True) if r.name == "pending_growth"
    ]
    assert not result.passed and result.measured == 3 and result.run_id == run_id


# -- integrity: orphans, dangling edges, duplicates -----------------------------------------


def test_orphan_versions_fail_on_a_version_no_package_has(store: GraphStore) -> None:
    _healthy(store)
    assert _check(store, "orphan_versions").passed
    run_sql(
        store,
        "INSERT INTO versions (purl, package_purl, name) VALUES "
        "('pkg:pypi/ghost@1.0', 'pkg:pypi/ghost', '1.0')",
        "CREATE (:Version {purl: 'pkg:pypi/ghost@1.0', name: '1.0'})",
    )
    result = _check(store, "orphan_versions")
    assert not result.passed and result.measured == 1 and result.severity == "ERROR"
    assert _check(store, "orphan_versions", NPM).passed  # another ecosystem's range
    assert _check(store, "orphan_versions", max_orphan_versions=1).passed


def test_dangling_edges_fail_on_an_edge_to_no_package(store: GraphStore) -> None:
    _healthy(store)
    assert _check(store, "dangling_edges").passed
    run_sql(
        store,
        "INSERT INTO requires (from_purl, to_purl, key, constraints) VALUES "
        "('pkg:pypi/requests@1.0.0', 'pkg:pypi/vanished', 'runtime||', 'any')",
        "MATCH (v:Version {purl: 'pkg:pypi/requests@1.0.0'}) "
        "CREATE (v)-[:REQUIRE {constraints: 'any'}]->(:Stray {name: 'vanished'})",
    )
    result = _check(store, "dangling_edges")
    assert not result.passed and result.measured == 1
    assert "ssc update pypi --full" in result.message


def test_duplicate_purls_fail_on_name_twins(store: GraphStore) -> None:
    _healthy(store)
    assert _check(store, "duplicate_purls").passed
    run_sql(
        store,
        "INSERT INTO packages (purl, ecosystem, name, status) VALUES "
        "('pkg:pypi/Requests', 'pypi', 'Requests', 'extracted')",
        "CREATE (:PyPIPackage {purl: 'pkg:pypi/Requests', name: 'Requests', status: 'extracted'})",
    )
    result = _check(store, "duplicate_purls")
    assert not result.passed and result.measured == 1
    assert "ssc graph migrate" in result.message


def test_npm_names_differing_by_case_are_not_twins(store: GraphStore) -> None:
    store.write_packages(
        [
            pkg("JSONStream", [ver("1.0.0", [])], eco=NPM),
            pkg("jsonstream", [ver("1.0.0", [])], eco=NPM),
        ]
    )
    assert _check(store, "duplicate_purls", NPM).passed


# -- results, gate, datasets ----------------------------------------------------------------


def test_results_are_kept_per_check_and_the_gate_reads_the_latest(store: GraphStore) -> None:
    store.mark(NUGET, ["pending.only"], "pending")
    ctx = CheckContext(store, Thresholds())
    checks.record(store, checks.graph_checks(ctx, [NUGET], cheap_only=True))
    stored = [CheckResult.from_row(r) for r in store.check_results(["nuget"])]
    assert {r.name for r in stored} == {"packages_nonempty", "regression", "pending_growth"}
    with pytest.raises(QualityGateError) as raised:
        gate.require_passing(store, gate.classify_inputs([NUGET]), "classify nuget")
    assert raised.value.exit_code == 3
    assert "nuget/packages_nonempty" in str(raised.value)
    assert "ssc check nuget" in str(raised.value)
    gate.require_passing(store, gate.classify_inputs([PYPI]), "classify pypi")  # never checked

    store.write_packages([pkg("real.package", [ver("1.0.0", [])], eco=NUGET)])
    checks.record(store, checks.graph_checks(CheckContext(store), [NUGET], cheap_only=True))
    assert len(store.check_results(["nuget"])) == 3  # replaced, not added
    gate.require_passing(store, gate.attribution_inputs([NUGET]), "vulns attribute nuget")


def test_a_failing_warn_check_does_not_block(store: GraphStore) -> None:
    _healthy(store)
    _run(store, "update", PYPI, {"pypi": {"packages": 2, "versions": 100, "edges": 2}})
    results = checks.graph_checks(CheckContext(store), [PYPI], cheap_only=True)
    checks.record(store, results)
    assert [r.name for r in checks.failing(results)] == ["regression"]
    gate.require_passing(store, ["pypi"], "classify pypi")


def test_recent_runs_filter_by_job_and_ecosystem(store: GraphStore) -> None:
    first = _run(store, "ingest", PYPI, {})
    _run(store, "update", NPM, {})
    drain = _run(store, "drain-queue", None, {})
    last = _run(store, "ingest", PYPI, {})
    rows = store.recent_runs(checks.WRITERS, PYPI)
    assert [r["id"] for r in rows] == [last, drain, first]
    assert [r["id"] for r in store.recent_runs(["ingest"], PYPI, limit=1)] == [last]
    assert len(store.recent_runs(["ingest", "update"])) == 3
    assert set(store.run_datasets()) == {
        ("ingest", "pypi"),
        ("update", "npm"),
        ("drain-queue", None),
    }
    assert checks.checked_ecosystems(store) == [PYPI, NPM]
