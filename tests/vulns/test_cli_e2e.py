"""`ssc vulns sync / attribute / show` and inline attribution, through the real command."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.graph.sqlite import SqliteStore
from tests.conftest import SHARED_FIXTURES, Ssc, require_real_fixtures
from tests.fakeregistry import pypi
from tests.fakeregistry.osv import OsvBucketApp
from tests.fakeregistry.server import FakeRegistry

V31_HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
V31_MED = "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N"  # 6.8


def advisory(ident: str, name: str, events: list[dict[str, str]], *, eco: str = "PyPI",
             modified: str = "2024-01-01T00:00:00Z", vector: str | None = V31_HIGH,
             aliases: list[str] | None = None, **extra: Any) -> dict[str, Any]:  # fmt: skip
    record: dict[str, Any] = {
        "id": ident,
        "modified": modified,
        "aliases": aliases or [],
        "affected": [
            {
                "package": {"ecosystem": eco, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
        **extra,
    }
    if vector:
        record["severity"] = [{"type": "CVSS_V3", "score": vector}]
    return record


@pytest.fixture
def registry(fake_registry: FakeRegistry) -> pypi.PyPIApp:
    app = pypi.synthetic(12, versions=3, deps=1)
    fake_registry.mount("pypi", app)
    return app


@pytest.fixture
def bucket(fake_registry: FakeRegistry, ssc: Ssc) -> OsvBucketApp:
    app = OsvBucketApp()
    fake_registry.mount("osv", app)
    ssc.env["SSC_OSV_URL"] = fake_registry.url("osv")
    return app


def versions_of(ssc: Ssc, package: str) -> dict[str, dict[str, Any]]:
    return {
        v["name"]: v
        for v in ssc.export()
        if v["type"] == "version" and v["package"] == f"pkg:pypi/{package}"
    }


def test_sync_the_real_fixtures_names_the_bad_record_and_loads_the_rest(ssc: Ssc) -> None:
    require_real_fixtures("osv")
    summary = ssc.json("vulns", "sync", str(SHARED_FIXTURES / "osv"), expect=1)
    assert summary["records_loaded"] == 12
    assert [bad["reason"] for bad in summary["invalid"]] == [
        "MAL-2023-995: modified: Field required"
    ]
    assert summary["records_withdrawn"] == 1  # PYSEC-2023-73
    assert summary["by_ecosystem"] == {
        "pypi": 3,
        "npm": 1,
        "maven": 2,
        "nuget": 1,
        "cargo": 4,
        "rubygems": 1,
    }
    again = ssc.json("vulns", "sync", str(SHARED_FIXTURES / "osv"), expect=1)
    assert (again["records_loaded"], again["records_skipped"]) == (0, 12)
    shown = ssc.json("vulns", "show", "CVE-2021-25900")  # an alias finds its record
    assert shown["id"] == "RUSTSEC-2021-0003" and shown["score"] == 9.8


def test_bad_input_is_named_the_rest_loaded_and_nothing_half_written(
    ssc: Ssc, tmp_path: Path
) -> None:
    good = advisory("GHSA-good", "pkg-00001", [{"introduced": "0"}])
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("GHSA-good.json", json.dumps(good))
        out.writestr("GHSA-trunc.json", '{"id": "GHSA-trunc", "modif')
        out.writestr(
            "GHSA-case.json",
            json.dumps(advisory("GHSA-case", "x", [{"introduced": "0"}], eco="pypi")),
        )
        out.writestr(
            "GHSA-vec.json",
            json.dumps(
                advisory(
                    "GHSA-vec", "pkg-00002", [{"introduced": "0"}], vector="CVSS:3.1/AV:N/AC:Q"
                )
            ),
        )
        out.writestr(
            "GHSA-events.json",
            json.dumps(advisory("GHSA-events", "x", [{"introduced": "1", "fixed": "2"}])),
        )
        out.writestr(
            "GHSA-go.json",
            json.dumps(advisory("GO-1", "golang.org/x/net", [{"introduced": "0"}], eco="Go")),
        )
    summary = ssc.json("vulns", "sync", str(archive), expect=1)
    reasons = {bad["source"].rsplit(":", 1)[-1]: bad["reason"] for bad in summary["invalid"]}
    assert set(reasons) == {"GHSA-trunc.json", "GHSA-case.json", "GHSA-events.json"}
    assert "unknown ecosystem 'pypi'" in reasons["GHSA-case.json"]
    assert "exactly one of" in reasons["GHSA-events.json"]
    assert [v["id"] for v in summary["rejected_vectors"]] == ["GHSA-vec"]
    assert summary["records_loaded"] == 2 and summary["records_other_ecosystems"] == 1
    assert summary["unscored_advisories"] == 1
    assert ssc.json("vulns", "show", "GHSA-vec")["score"] is None
    # The human line says the same (another data dir: a first sync again).
    plain = ssc.with_graph("other.sqlite")("vulns", "sync", str(archive), expect=1)
    line = plain.stdout + plain.stderr
    assert "2 loaded, 0 not newer, 0 withdrawn, 1 of other ecosystems" in line
    assert "1 unscored advisories, 4 errors" in line
    ssc("vulns", "show", "GHSA-trunc", expect=1)  # never written


def test_a_zip_that_is_not_a_zip_is_named(ssc: Ssc, tmp_path: Path) -> None:
    (tmp_path / "all.zip").write_bytes(b"PK\x03\x04 not really")
    summary = ssc.json("vulns", "sync", str(tmp_path / "all.zip"), expect=1)
    assert "not a readable zip archive" in summary["invalid"][0]["reason"]


def test_mirror_bootstraps_from_all_zip_then_fetches_only_changed_records(
    ssc: Ssc, bucket: OsvBucketApp, fake_registry: FakeRegistry
) -> None:
    for i in range(5):
        bucket.put(
            advisory(f"PYSEC-{i}", f"pkg-0000{i}", [{"introduced": "0"}, {"fixed": "1.0.0"}])
        )
    first = ssc.json("vulns", "sync", "--ecosystem", "pypi")
    assert first["records_loaded"] == 5 and first["cursors_saved"] == ["PyPI"]
    assert [p for _, p, _ in fake_registry.requests("/osv/")] == [
        "/osv/PyPI/modified_id.csv",
        "/osv/PyPI/all.zip",
    ]
    fake_registry.clear_log()
    bucket.put(
        advisory("PYSEC-1", "pkg-00001", [{"introduced": "0"}], modified="2024-02-01T00:00:00.5Z")
    )
    bucket.put(
        advisory("PYSEC-9", "pkg-00009", [{"introduced": "0"}], modified="2024-02-01T00:00:00Z")
    )
    second = ssc.json("vulns", "sync", "--ecosystem", "pypi")
    assert (second["records_loaded"], second["packages_changed"]) == (2, 2)
    fetched = sorted(p for _, p, _ in fake_registry.requests("/osv/"))
    # Within the overlap window the unchanged records of the cursor's minute are read again.
    assert "/osv/PyPI/all.zip" not in fetched
    assert {"/osv/PyPI/PYSEC-1.json", "/osv/PyPI/PYSEC-9.json"} <= set(fetched)
    fake_registry.clear_log()
    third = ssc.json("vulns", "sync", "--ecosystem", "pypi")
    assert third["records_loaded"] == 0
    assert [s for _, p, s in fake_registry.requests("modified_id.csv")] == [304]


def test_a_mirror_record_that_does_not_parse_keeps_the_cursor(
    ssc: Ssc, bucket: OsvBucketApp, fake_registry: FakeRegistry
) -> None:
    bucket.put(advisory("PYSEC-1", "pkg-00001", [{"introduced": "0"}]))
    ssc.json("vulns", "sync", "--ecosystem", "pypi")
    bucket.put(
        advisory("PYSEC-2", "pkg-00002", [{"introduced": "0"}], modified="2024-03-01T00:00:00Z")
    )
    bucket.put(
        advisory("PYSEC-3", "pkg-00003", [{"introduced": "0"}], modified="2024-03-01T00:00:00Z")
    )
    bucket.broken_json["PyPI"] = {"PYSEC-3"}
    summary = ssc.json(
        "vulns", "sync", "--ecosystem", "pypi", env={"SSC_HTTP_RETRIES": "1"}, expect=1
    )
    assert summary["records_loaded"] == 1 and summary["cursors_saved"] == []
    assert "PYSEC-3.json" in summary["invalid"][0]["source"]
    bucket.broken_json["PyPI"] = set()
    fixed = ssc.json("vulns", "sync", "--ecosystem", "pypi")
    assert fixed["records_loaded"] == 1 and fixed["cursors_saved"] == ["PyPI"]


def test_attribute_then_change_one_advisory_touches_only_its_package(
    ssc: Ssc, registry: pypi.PyPIApp, tmp_path: Path, fake_registry: FakeRegistry
) -> None:
    ssc.json("ingest", "pypi")  # no OSV store yet: written unattributed
    fake_registry.clear_log()  # from here on no registry request: stored versions are enough
    assert "unscored_vulnerabilities" not in versions_of(ssc, "pkg-00001")["0.1.0"]
    records = tmp_path / "records"
    records.mkdir()
    (records / "a.json").write_text(
        json.dumps(
            advisory(
                "GHSA-a", "PKG_00001", [{"introduced": "0"}, {"fixed": "1.0"}], aliases=["CVE-1"]
            )
        )
    )
    (records / "b.json").write_text(
        json.dumps(
            advisory(
                "PYSEC-b",
                "pkg-00001",
                [{"introduced": "0.5"}, {"fixed": "2"}],
                vector=V31_MED,
                aliases=["CVE-1"],
            )
        )
    )
    (records / "c.json").write_text(
        json.dumps(advisory("GHSA-c", "pkg-00002", [{"introduced": "2.2.0"}], vector=None))
    )
    ssc.json("vulns", "sync", str(records))
    summary = ssc.json("vulns", "attribute")
    assert summary["mode"] == {"pypi": "all"}
    assert summary["versions_reattributed"] == 36 and summary["newly_vulnerable"] == 3
    assert summary["unscored_advisories"] == 1
    one = versions_of(ssc, "pkg-00001")
    assert one["0.1.0"]["vulnerabilities"] == ["CVE-1", "GHSA-a"]
    assert (one["0.1.0"]["mean"], one["0.1.0"]["weighted_mean"]) == (9.8, 9.8)
    # GHSA-a and PYSEC-b are one vulnerability (CVE-1): counted once, with its highest score.
    assert one["1.1.0"]["vulnerabilities"] == ["CVE-1", "PYSEC-b"] and one["1.1.0"]["mean"] == 6.8
    assert one["2.1.0"] == {
        **one["2.1.0"],
        "vulnerabilities": [],
        "mean": 0.0,
        "unscored_vulnerabilities": 0,
    }
    two = versions_of(ssc, "pkg-00002")
    assert (two["2.2.0"]["vulnerabilities"], two["2.2.0"]["unscored_vulnerabilities"]) == (
        ["GHSA-c"],
        1,
    )

    assert ssc.json("vulns", "attribute")["packages_reattributed"] == 0  # nothing changed
    (records / "a.json").write_text(
        json.dumps(
            advisory(
                "GHSA-a",
                "pkg-00001",
                [{"introduced": "0"}, {"fixed": "0.1.0"}],
                modified="2024-06-01T00:00:00Z",
            )
        )
    )
    ssc.json("vulns", "sync", str(records / "a.json"))
    dry = ssc.json("vulns", "attribute", "--dry-run")
    assert (dry["packages_reattributed"], dry["versions_changed"]) == (1, 1)
    summary = ssc.json("vulns", "attribute", "pypi")
    assert (summary["packages_named"], summary["packages_reattributed"]) == (1, 1)
    assert (summary["versions_changed"], summary["no_longer_vulnerable"]) == (1, 1)
    assert versions_of(ssc, "pkg-00001")["0.1.0"]["vulnerabilities"] == []
    shown = ssc.json("vulns", "show", "PYSEC-b")
    assert shown["packages"][0]["affected_versions"] == ["1.1.0"]
    assert fake_registry.requests() == []


def test_inline_attribution_writes_new_versions_with_their_advisories(
    ssc: Ssc, registry: pypi.PyPIApp, tmp_path: Path
) -> None:
    path = tmp_path / "a.json"
    path.write_text(
        json.dumps(advisory("GHSA-a", "pkg-00003", [{"introduced": "1.0"}], aliases=["CVE-9"]))
    )
    ssc.json("vulns", "sync", str(path))
    ssc.json("ingest", "pypi")
    three = versions_of(ssc, "pkg-00003")
    assert (
        three["1.0.0"]["vulnerabilities"] == ["CVE-9", "GHSA-a"] and three["1.0.0"]["mean"] == 9.8
    )
    assert (
        three["0.0.0"]["vulnerabilities"] == [] and three["0.0.0"]["unscored_vulnerabilities"] == 0
    )
    # Nothing left to attribute; with inline off, new versions wait for `vulns attribute`.
    assert ssc.json("vulns", "attribute")["versions_changed"] == 0
    registry.release("pkg-00003", "3.0.0")
    ssc.json("update", "pypi", env={"SSC_VULNS_INLINE": "false"})
    assert "unscored_vulnerabilities" not in versions_of(ssc, "pkg-00003")["3.0.0"]
    summary = ssc.json("vulns", "attribute")
    assert summary["mode"] == {"pypi": "changed"} and summary["newly_vulnerable"] == 1


@pytest.mark.parametrize("variable", ["SSC_VULN_DB_URI", "VULN_DB_URI"])  # the old name too
@pytest.mark.parametrize("command", [("vulns", "show", "GHSA-x"), ("ingest", "pypi")])
def test_mongodb_unreachable_is_exit_5_with_the_password_redacted(
    ssc: Ssc, registry: pypi.PyPIApp, variable: str, command: tuple[str, ...]
) -> None:
    uri = "mongodb://admin:s3cret@127.0.0.1:9/?serverSelectionTimeoutMS=200"
    SqliteStore.from_uri(ssc.graph_uri).migrate()  # `vulns show` reads a graph, never makes one
    result = ssc(*command, env={variable: uri, "SSC_VULN_DB_TIMEOUT_MS": "200"}, expect=5)
    assert "s3cret" not in result.stderr and "admin:***@127.0.0.1:9" in result.stderr


def test_doctor_names_the_embedded_store_its_counts_and_newest_record(
    ssc: Ssc, tmp_path: Path
) -> None:
    def vulns_check() -> dict[str, Any]:
        [check] = [c for c in ssc.json("doctor", "--ecosystem", "pypi", expect=4)
                   if c["check"] == "vulnerabilities"]  # fmt: skip
        return check

    empty = vulns_check()  # no registry is mounted: exit 4 from the registry probe only
    assert empty["ok"] is True and "no store yet" in empty["detail"]
    assert not (Path(empty["target"])).exists()  # doctor does not create the store
    path = tmp_path / "a.json"
    path.write_text(
        json.dumps(
            advisory("GHSA-a", "pkg-1", [{"introduced": "0"}], modified="2024-05-01T00:00:00Z")
        )  # fmt: skip
    )
    ssc.json("vulns", "sync", str(path))
    check = vulns_check()
    assert check["ok"] is True and check["source"] == "osv"
    assert check["target"] == empty["target"] and Path(check["target"]).is_file()
    assert check["records"] == {"pypi": 1}
    assert check["newest_modified"]["pypi"].startswith("2024-05-01T00:00:00")
    assert check["newest_age_seconds"] > 86_400 * 30


def test_graph_show_lists_each_versions_advisories_and_scores(
    ssc: Ssc, registry: pypi.PyPIApp, tmp_path: Path
) -> None:
    path = tmp_path / "a.json"
    path.write_text(
        json.dumps(
            [
                advisory("GHSA-a", "pkg-00004", [{"introduced": "1.0"}], aliases=["CVE-9"]),
                advisory("GHSA-u", "pkg-00004", [{"introduced": "2.0"}], vector=None),
            ]
        )
    )
    ssc.json("vulns", "sync", str(path))
    inline = ssc.json("ingest", "pypi")["vulnerabilities"]
    assert inline["source"].startswith("osv ") and inline["versions_attributed"] == 36
    assert (inline["vulnerable_versions"], inline["advisories_matched"]) == (2, 2)
    assert (inline["unscored_advisories"], inline["unparseable_versions"]) == (1, 0)
    shown = {v["name"]: v for v in ssc.json("graph", "show", "pypi", "pkg-00004")["versions"]}
    assert shown["2.1.0"]["vulnerabilities"] == ["CVE-9", "GHSA-a", "GHSA-u"]
    assert (shown["2.1.0"]["mean"], shown["2.1.0"]["weighted_mean"]) == (9.8, 9.8)
    assert shown["2.1.0"]["unscored_vulnerabilities"] == 1
    assert shown["0.1.0"]["vulnerabilities"] == [] and shown["0.1.0"]["mean"] == 0.0
    plain = ssc("graph", "show", "pypi", "pkg-00004", env={"COLUMNS": "400"}).stdout
    [row_2] = [line for line in plain.splitlines() if " 2.1.0 " in line]
    assert "CVE-9 GHSA-a GHSA-u; mean 9.8, weighted 9.8, 1 unscored" in row_2
    [row_0] = [line for line in plain.splitlines() if " 0.1.0 " in line]
    assert "│ none" in row_0
    # Versions written before any sync say they were never attributed.
    registry.release("pkg-00004", "3.0.0")
    assert ssc.json("update", "pypi", env={"SSC_VULNS_INLINE": "false"})["vulnerabilities"] is None
    plain = ssc("graph", "show", "pypi", "pkg-00004", env={"COLUMNS": "400"}).stdout
    assert "not attributed (ssc vulns attribute)" in plain


def test_sigterm_during_a_mirror_sync_keeps_the_cursor_and_exits_143(
    ssc: Ssc, bucket: OsvBucketApp, fake_registry: FakeRegistry
) -> None:
    import signal
    import time

    bucket.put(advisory("PYSEC-0", "pkg-00000", [{"introduced": "0"}]))
    assert ssc.json("vulns", "sync", "--ecosystem", "pypi")["cursors_saved"] == ["PyPI"]
    for i in range(1, 6):
        bucket.put(
            advisory(
                f"PYSEC-{i}", f"pkg-0000{i}", [{"introduced": "0"}], modified="2024-03-01T00:00:00Z"
            )  # fmt: skip
        )
    fake_registry.latency = 0.5
    process = ssc.popen("--json", "vulns", "sync", "--ecosystem", "pypi")
    deadline = time.monotonic() + 60
    while fake_registry.in_flight < 1:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["stopped"] == "signal" and summary["cursors_saved"] == []
    fake_registry.latency = 0.0
    rest = ssc.json("vulns", "sync", "--ecosystem", "pypi")  # the next run finishes the folder
    assert rest["stopped"] is None and rest["cursors_saved"] == ["PyPI"]
    assert rest["records_loaded"] + summary["records_loaded"] == 5


@pytest.mark.mongo
def test_doctor_names_the_mongodb_source_redacted_with_its_counts(ssc: Ssc, tmp_path: Path) -> None:
    from tests.vuln_sources import Populated

    populated = Populated("mongo", tmp_path)
    try:
        populated.put([advisory("GHSA-m", "pkg-1", [{"introduced": "0"}],
                                modified="2024-05-01T00:00:00Z")])  # fmt: skip
        uri = populated.mongo.target  # the real test server's URI (no password to redact)
        env = {"SSC_VULN_DB_URI": uri, "SSC_VULN_DB_NAME": populated.collection.database.name}
        checks = ssc.json("doctor", "--ecosystem", "pypi", expect=4, env=env)
        [check] = [c for c in checks if c["check"] == "vulnerabilities"]
        assert check["ok"] is True and check["source"] == "mongodb", check
        assert check["target"] == uri and check["records"] == {"pypi": 1}
        assert check["newest_modified"]["pypi"].startswith("2024-05-01T00:00:00")
        assert check["newest_age_seconds"] > 86_400 * 30
    finally:
        populated.close()


def test_sync_without_arguments_reads_the_mirror_folders_of_the_graphs_ecosystems(
    ssc: Ssc, registry: pypi.PyPIApp, bucket: OsvBucketApp, fake_registry: FakeRegistry
) -> None:
    bucket.put(advisory("PYSEC-1", "pkg-00001", [{"introduced": "0"}]))
    bucket.put(advisory("GHSA-n", "left-pad", [{"introduced": "0"}], eco="npm"))
    ssc.json("ingest", "pypi", "--limit", "1")
    fake_registry.clear_log()
    summary = ssc.json("vulns", "sync")  # SSC_OSV_URL, the graph holds PyPI only
    assert summary["cursors_saved"] == ["PyPI"] and summary["records_loaded"] == 1
    assert {p.split("/")[2] for _, p, _ in fake_registry.requests("/osv/")} == {"PyPI"}
