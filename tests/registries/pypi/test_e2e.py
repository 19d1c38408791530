"""PyPI end to end through the real command: ingest, update, export, faults, kills, locks."""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry, Faults


@pytest.fixture
def app(fake_registry: FakeRegistry) -> pypi.PyPIApp:
    registry = pypi.synthetic(40, versions=3, deps=2)
    fake_registry.mount("pypi", registry)
    return registry


def _types(export: list[dict[str, object]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in export:
        counts[str(item["type"])] = counts.get(str(item["type"]), 0) + 1
    return counts


def test_ingest_writes_packages_versions_and_edges(ssc: Ssc, app: pypi.PyPIApp) -> None:
    summary = ssc.json("ingest", "pypi")
    assert summary["new_packages_ingested"] == 40
    assert summary["errors"] == 0 and summary["pending_left"] == 0
    assert summary["total_in_registry"] == 40 and summary["listing_complete"]
    export = ssc.export()
    assert _types(export) == {"package": 40, "version": 120, "requires": 231}  # 0 + 1x3 + 38x2x3
    package = next(i for i in export if i.get("purl") == "pkg:pypi/pkg-00007")
    assert package == {
        "type": "package",
        "ecosystem": "pypi",
        "name": "pkg-00007",
        "purl": "pkg:pypi/pkg-00007",
        "vendor": "owner7",
        "repository_url": "https://github.com/owner7/pkg-00007",
        "import_names": ["pkg_00007"],
        "status": "extracted",
    }
    edge = next(
        i
        for i in export
        if i["type"] == "requires" and i["from"].startswith("pkg:pypi/pkg-00007@1")
    )
    assert edge["parent_version_name"] == "pkg:pypi/pkg-00007"
    assert edge["constraints"] == ">=1.0, <3" and edge["raw_constraints"] == ">=1.0,<3"
    # the `extra == 'test'` requirement of every fifth project never becomes an edge
    assert not any(i["type"] == "requires" and i["to"] == "pkg:pypi/pytest" for i in export)
    versions = sorted(
        (i["serial_number"], i["name"])
        for i in export
        if i["type"] == "version" and i["package"] == "pkg:pypi/pkg-00007"
    )
    assert versions == [(0, "0.1.0"), (1, "1.1.0"), (2, "2.1.0")]


def test_second_ingest_is_a_no_op(ssc: Ssc, app: pypi.PyPIApp) -> None:
    ssc("ingest", "pypi")
    first = ssc.export()
    summary = ssc.json("ingest", "pypi")
    assert summary["new_packages_ingested"] == 0 and summary["skipped_existing"] == 40
    assert ssc.export() == first


def test_limit_then_follow_dependencies_and_pending(ssc: Ssc, app: pypi.PyPIApp, tmp_path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("# one root\npkg-00039\n")
    summary = ssc.json("ingest", "pypi", "--names-from", str(names), "--limit", "3")
    assert summary["new_packages_ingested"] == 3
    assert summary["pending_left"] > 0  # dependencies not reached stay pending, edges kept
    export = ssc.export()
    pending = {i["name"] for i in export if i["type"] == "package" and i["status"] == "pending"}
    targets = {i["to"].split("/")[-1] for i in export if i["type"] == "requires"}
    assert pending and pending <= targets
    # the next run takes the pending ones first
    summary = ssc.json("ingest", "pypi", "--limit", str(len(pending)))
    export = ssc.export()
    assert (
        not {i["name"] for i in export if i["type"] == "package" and i["status"] == "pending"}
        & pending
    )


def test_dry_run_writes_nothing(ssc: Ssc, app: pypi.PyPIApp) -> None:
    summary = ssc.json("ingest", "pypi", "--dry-run", "--limit", "5")
    assert summary["new_packages_ingested"] == 5
    assert ssc.export() == []


def test_update_equals_fresh_ingest_of_changed_registry(
    ssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry
) -> None:
    ssc("ingest", "pypi")
    # The registry moves on: a new release with a new dependency, a yank, a removed release,
    # and a brand-new project (not part of an update: ingest picks it up).
    app.release(
        "pkg-00003",
        "3.0.0",
        requires_dist=["pkg-00001>=1", "brand-new; python_version >= '3.8'"],
        wheel_modules=["pkg_00003/__init__.py"],
    )
    app.projects["pkg-00004"].releases["1.1.0"].yanked = True
    app.touch("pkg-00004")
    del app.projects["pkg-00005"].releases["0.2.0"]
    app.touch("pkg-00005")
    app.add("brand-new")
    app.release("brand-new", "1.0", wheel_modules=["brand_new.py"])
    fake_registry.clear_log()
    summary = ssc.json("update", "pypi")
    assert summary["packages_processed"] == 3 and summary["total_versions"] == 1
    assert summary["removed_versions"] == 1 and summary["errors"] == 0
    # Only the changed projects were fetched, plus one version endpoint for the new release.
    fetched = {path for _, path, _ in fake_registry.requests(r"^/pypi/pypi/")}
    assert fetched == {
        "/pypi/pypi/pkg-00003/json",
        "/pypi/pypi/pkg-00004/json",
        "/pypi/pypi/pkg-00005/json",
    }  # the newest release's metadata comes with the project document
    ssc("ingest", "pypi")  # the new project, and brand-new as a discovered dependency
    fresh = ssc.with_graph("fresh.sqlite")
    fresh("ingest", "pypi")
    assert ssc.export() == fresh.export()
    yanked = next(i for i in ssc.export() if i.get("purl") == "pkg:pypi/pkg-00004@1.1.0")
    assert yanked["yanked"] is True
    assert ssc.json("update", "pypi")["packages_processed"] == 0  # re-run: nothing changed


def test_update_full_rechecks_everything(ssc: Ssc, app: pypi.PyPIApp) -> None:
    ssc("ingest", "pypi", "--limit", "10", "--no-follow-deps")
    summary = ssc.json("update", "pypi", "--full")
    assert summary["packages_processed"] == 10 and summary["total_versions"] == 0


def test_html_listing_fallback(ssc: Ssc, app: pypi.PyPIApp) -> None:
    app.html_listing_only = True
    summary = ssc.json("ingest", "pypi", "--limit", "5", "--no-follow-deps")
    assert summary["new_packages_ingested"] == 5 and summary["total_in_registry"] >= 5


def test_faults_lose_nothing_and_a_second_run_completes(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    fake_registry.mount("pypi", pypi.synthetic(60, versions=3, deps=2))
    clean = ssc.with_graph("clean.sqlite")
    clean("ingest", "pypi")
    expected = clean.export()
    fake_registry.faults = Faults(
        rate_429=0.10,
        rate_500=0.05,
        rate_timeout=0.02,
        rate_malformed=0.01,
        timeout_seconds=1.5,
        seed=99,
    )
    env = {"SSC_HTTP_TIMEOUT": "0.5", "SSC_HTTP_RETRIES": "2"}
    first = ssc.json("ingest", "pypi", expect=None, env=env)
    export = ssc.export()
    extracted = {i["name"] for i in export if i["type"] == "package" and i["status"] == "extracted"}
    failed = {f["package"] for f in first["failures"]}
    assert extracted | failed | {i["name"] for i in export if i["type"] == "package"} >= {
        f"pkg-{i:05d}" for i in range(60)
    }
    assert len(extracted) + len(failed) >= 60 - first["pending_left"]
    assert all(f["reason"] for f in first["failures"])
    fake_registry.faults = Faults()
    second = ssc.json("ingest", "pypi")
    assert second["errors"] == 0 and second["pending_left"] == 0
    assert ssc.export() == expected


def test_failures_are_recorded_with_their_reason(
    ssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry
) -> None:
    fake_registry.faults = Faults(always={r"/pypi/pkg-00002/": 500})
    result = ssc("ingest", "pypi", "--no-follow-deps", "--json", expect=1)
    import json

    summary = json.loads(result.stdout)
    assert [f["package"] for f in summary["failures"]] == ["pkg-00002"]
    assert "500" in summary["failures"][0]["reason"]
    shown = ssc("graph", "show", "pypi", "pkg-00002", "--json")
    assert json.loads(shown.stdout)["status"] == "pending"
    assert "500" in json.loads(shown.stdout)["last_error"]


def test_sigkill_midway_then_rerun_matches_uninterrupted(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    fake_registry.mount("pypi", pypi.synthetic(120, versions=3, deps=2))
    clean = ssc.with_graph("clean.sqlite")
    clean("ingest", "pypi")
    expected = clean.export()
    fake_registry.latency = 0.05  # the 110 packages left after the kill point take >= 2.7 s
    fake_registry.clear_log()
    process = ssc.popen("ingest", "pypi", "--concurrency", "2", env={"SSC_WRITE_BATCH_SIZE": "5"})
    graph = ssc.graph_uri.removeprefix("sqlite:///")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _extracted(graph) < 10:
        time.sleep(0.05)  # kill once a few batches are committed, well before the end
    process.send_signal(signal.SIGKILL)
    process.communicate()
    partial = [i for i in ssc.export() if i["type"] == "package" and i["status"] == "extracted"]
    assert 0 < len(partial) < 120
    fake_registry.latency = 0.0
    ssc("ingest", "pypi")
    assert ssc.export() == expected


def _extracted(graph: str) -> int:
    import sqlite3
    from contextlib import closing

    try:
        with closing(sqlite3.connect(graph)) as db:
            return int(
                db.execute("SELECT count(*) FROM packages WHERE status = 'extracted'").fetchone()[0]
            )
    except sqlite3.Error:
        return 0  # not created yet


def test_second_run_of_same_job_exits_75_and_writes_nothing(
    ssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry
) -> None:
    ssc("ingest", "pypi", "--limit", "5", "--no-follow-deps")
    before = ssc.export()
    app.release("pkg-00001", "9.0.0", wheel_modules=None)
    fake_registry.answering.clear()  # the first run's requests wait until the second has run
    first = ssc.popen("update", "pypi")
    try:
        deadline = time.monotonic() + 60
        while fake_registry.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # its first request is waiting: it holds the lock from before it
        assert fake_registry.in_flight > 0, "the first run made no request"
        # A request of the refused run would wait too, so exiting at all shows it sent none.
        second = ssc("update", "pypi", expect=75, timeout=60)
    finally:
        fake_registry.answering.set()
    assert "another `ssc update pypi` is running" in second.stderr
    first.communicate(timeout=60)
    assert first.returncode == 0
    assert ssc.export() != before  # the first run did its work


def test_invalid_settings_name_every_field_and_hide_passwords(ssc: Ssc, app: pypi.PyPIApp) -> None:
    env = {
        "GRAPH_DB_URI": "mysql://x",
        "GRAPH_DB_PASSWORD": "hunter2-secret",
        "SSC_HTTP_TIMEOUT": "-1",
        "SSC_GRAPH_URI": None,
    }
    result = ssc("ingest", "pypi", expect=2, env=env)
    assert "SSC_GRAPH_URI / GRAPH_DB_URI" in result.stderr and "SSC_HTTP_TIMEOUT" in result.stderr
    assert "hunter2-secret" not in result.stderr + result.stdout


def test_old_template_env_names_are_read(ssc: Ssc, app: pypi.PyPIApp, tmp_path) -> None:
    env_file = tmp_path / "deploy.env"
    env_file.write_text(
        f"GRAPH_DB_URI='sqlite:///{tmp_path / 'old.sqlite'}'\nGRAPH_DB_PASSWORD='hunter2'\n"
    )
    ssc(
        "--env-file",
        str(env_file),
        "ingest",
        "pypi",
        "--limit",
        "2",
        "--no-follow-deps",
        env={"SSC_GRAPH_URI": None},
    )
    assert (tmp_path / "old.sqlite").exists()


def test_unreachable_registry_exits_4(ssc: Ssc) -> None:
    env = {"SSC_PYPI_URL": "http://127.0.0.1:9/pypi", "SSC_HTTP_RETRIES": "1"}
    result = ssc("ingest", "pypi", expect=4, env=env)
    assert "127.0.0.1:9" in result.stderr


def test_unreachable_graph_exits_5(ssc: Ssc, app: pypi.PyPIApp) -> None:
    result = ssc(
        "ingest",
        "pypi",
        expect=5,
        env={"SSC_GRAPH_URI": "bolt://127.0.0.1:9", "SSC_GRAPH_PASSWORD": "pw-secret"},
    )
    assert "pw-secret" not in result.stderr


@pytest.mark.parametrize(
    "uri", ["bolt://neo:uri-secret@127.0.0.1:9", "neo4j://neo:uri-secret@127.0.0.1:9?x=1"]
)
def test_a_password_in_the_graph_uri_never_reaches_output(ssc: Ssc, uri: str) -> None:
    env: dict[str, str | None] = {"SSC_GRAPH_URI": uri}
    failed = ssc("ingest", "pypi", "--json", expect=5, env=env)
    doctor = ssc("doctor", "--ecosystem", "pypi", "--json", expect=5, env=env)
    for text in (failed.stdout, failed.stderr, doctor.stdout, doctor.stderr):
        assert "uri-secret" not in text
    assert "neo:***@127.0.0.1:9" in failed.stderr


def test_doctor_reports_reachability(ssc: Ssc, app: pypi.PyPIApp) -> None:
    ok = ssc("doctor", "--ecosystem", "pypi")
    assert "ok   graph" in ok.stdout and "ok   registry pypi" in ok.stdout
    bad = ssc(
        "doctor", "--ecosystem", "pypi", expect=4, env={"SSC_PYPI_URL": "http://127.0.0.1:9/"}
    )
    assert "FAIL registry pypi" in bad.stdout


def test_unknown_ecosystem_is_a_usage_error(ssc: Ssc) -> None:
    result = ssc("ingest", "cobol", expect=2)
    assert "unknown ecosystem" in result.stderr


def test_a_garbled_listing_is_not_kept_for_the_next_run(
    ssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry
) -> None:
    # A proxy mangles the body but keeps the ETag: revalidating it would answer 304 for ever.
    fake_registry.faults = Faults(rate_malformed=1.0, only=r"^/pypi/simple/$")
    failed = ssc("ingest", "pypi", "--limit", "5", expect=None)
    assert failed.returncode != 0 and "/simple/" in failed.stderr
    fake_registry.faults = Faults()
    fake_registry.clear_log()
    summary = ssc.json("ingest", "pypi", "--limit", "5")
    assert summary["new_packages_ingested"] == 5
    assert [status for _m, _p, status in fake_registry.requests(r"^/pypi/simple/$")] == [200]


def test_a_token_in_a_registry_url_is_sent_as_auth_and_never_shown(
    ssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry
) -> None:
    fake_registry.faults = Faults(always={r"^/pypi/pypi/pkg-00003/": 500})
    url = fake_registry.url("pypi").replace("http://", "http://ci:tok-secret@")
    env: dict[str, str | None] = {"SSC_PYPI_URL": url, "SSC_HTTP_RETRIES": "0"}
    result = ssc("-vv", "ingest", "pypi", "--limit", "5", "--json", expect=1, env=env)
    assert "pkg-00003" in result.stdout and "HTTP 500" in result.stdout
    shown = ssc("graph", "show", "pypi", "pkg-00003", "--json", env=env)
    doctor = ssc("doctor", "--ecosystem", "pypi", env=env).stdout
    for text in (result.stdout, result.stderr, shown.stdout, doctor):
        assert "tok-secret" not in text


def test_summaries_report_what_the_run_cost_on_the_wire(ssc: Ssc, app: pypi.PyPIApp) -> None:
    first = ssc.json("ingest", "pypi", "--limit", "5", "--no-follow-deps")
    assert first["http"]["requests"] == first["requests"] > 5 and first["http"]["bytes"] > 0
    again = ssc.json("update", "pypi")
    assert again["http"]["not_modified"] == 1  # the unchanged listing cost a 304


def test_a_failed_run_still_prints_one_json_line(ssc: Ssc, app: pypi.PyPIApp) -> None:
    result = ssc("ingest", "pypi", "--json", expect=2, env={"SSC_PYPI_RATE": "0"})
    error = json.loads(result.stdout)
    assert error["exit_code"] == 2 and error["kind"] == "ConfigError"
    assert "SSC_PYPI_RATE" in error["error"]
    unreachable = ssc(
        "--json", "update", "pypi", expect=4, env={"SSC_PYPI_URL": "http://127.0.0.1:9"}
    )
    assert json.loads(unreachable.stdout)["exit_code"] == 4


def test_sdist_import_names_and_the_earliest_upload_as_release_date(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    registry = pypi.PyPIApp()
    registry.add("only-sdist")
    registry.release(
        "only-sdist", "1.0", sdist_modules=["src/only_sdist/__init__.py", "tests/__init__.py"]
    )
    registry.add("both")
    registry.release(
        "both",
        "2.0",
        wheel_modules=["both/__init__.py"],
        upload_time="2024-03-02T08:00:00.000000Z",
        sdist_modules=["both/__init__.py"],
        sdist_upload_time="2024-03-01T09:30:00.000000Z",
    )
    fake_registry.mount("pypi", registry)
    # A garbled sdist body is fetched again, not recorded as "no import names".
    fake_registry.faults = Faults(rate_malformed=0.5, seed=3, only=r"\.tar\.gz$")
    ssc("ingest", "pypi")
    packages = {p["name"]: p for p in ssc.export() if p["type"] == "package"}
    assert packages["only-sdist"]["import_names"] == ["only_sdist"]
    [version] = [v for v in ssc.export() if v["type"] == "version" and "both@" in v["purl"]]
    assert version["release_date"] == "2024-03-01T09:30:00Z"
    fake_registry.faults = Faults()
    fake_registry.clear_log()
    other = ssc.with_graph("no-sdists.sqlite")
    other("ingest", "pypi", env={"SSC_SDIST_MAX_BYTES": "0"})
    assert not fake_registry.requests(r"\.tar\.gz$")
