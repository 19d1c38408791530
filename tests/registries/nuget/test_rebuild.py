"""`ssc rebuild nuget` end to end: versions and edges from the leaf archive, no network."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ssc_cli.lock import file_lock
from ssc_cli.registries.nuget.catalog import CatalogArchive, CatalogItem
from ssc_cli.registries.nuget.client import rebuild_from_archive
from tests.conftest import Ssc
from tests.fakeregistry import nuget
from tests.fakeregistry.server import FakeRegistry

# Nothing listens on the discard port: a request, if one were made, would fail the run.
OFFLINE: dict[str, str | None] = {"SSC_NUGET_URL": "http://127.0.0.1:9/v3/index.json"}


@pytest.fixture
def app(fake_registry: FakeRegistry) -> nuget.NuGetApp:
    feed = nuget.synthetic(
        12, versions_per_package=3, deps_per_version=2, page_size=10, commit_size=4
    )
    fake_registry.mount("nuget", feed)
    return feed


def _graph(ssc: Ssc) -> sqlite3.Connection:
    return sqlite3.connect(ssc.graph_uri.removeprefix("sqlite:///"))


def _data_dir(ssc: Ssc) -> Path:
    return Path(ssc.env["SSC_DATA_DIR"])


def test_rebuild_with_other_kinds_equals_fresh_ingest_offline(
    ssc: Ssc, app: nuget.NuGetApp, fake_registry: FakeRegistry
) -> None:
    ssc("ingest", "nuget")
    original = ssc.export()
    fake_registry.clear_log()
    summary = ssc.json("rebuild", "nuget", env={**OFFLINE, "SSC_DEPENDENCY_KINDS": "dev"})
    assert fake_registry.requests() == []
    assert summary["packages_checked"] == 12 and summary["packages_rebuilt"] == 12
    assert summary["versions"] == 36 and summary["new_versions"] == 0
    assert summary["errors"] == 0 and summary["requests"] == 0 and summary["failures"] == []
    rebuilt = ssc.export()
    assert not [item for item in rebuilt if item["type"] == "requires"]
    fresh = ssc.with_graph("fresh.sqlite")
    fresh("ingest", "nuget", env={"SSC_DEPENDENCY_KINDS": "dev"})
    assert rebuilt == fresh.export()
    # Back to the default kinds: the edges return, repository and import names were kept.
    fake_registry.clear_log()
    ssc("rebuild", "nuget", env=OFFLINE)
    assert ssc.export() == original
    assert fake_registry.requests() == []


def test_rebuild_restores_a_deleted_version(
    ssc: Ssc, app: nuget.NuGetApp, fake_registry: FakeRegistry
) -> None:
    ssc("ingest", "nuget")
    expected = ssc.export()
    with _graph(ssc) as db:
        db.execute("DELETE FROM requires WHERE from_purl = 'pkg:nuget/synthetic.pkg3@1.1.0'")
        db.execute("DELETE FROM versions WHERE purl = 'pkg:nuget/synthetic.pkg3@1.1.0'")
    db.close()
    damaged = ssc.export()
    assert damaged != expected
    fake_registry.clear_log()
    preview = ssc.json("rebuild", "nuget", "--name", "Synthetic.Pkg3", "--dry-run", env=OFFLINE)
    assert preview["packages_rebuilt"] == 1 and preview["new_versions"] == 1
    assert preview["run_id"] is None and ssc.export() == damaged
    summary = ssc.json("rebuild", "nuget", "--name", "Synthetic.Pkg3", env=OFFLINE)
    assert summary["packages_checked"] == 1 and summary["new_versions"] == 1
    assert summary["removed_versions"] == 0 and summary["errors"] == 0
    assert ssc.export() == expected
    assert fake_registry.requests() == []


def test_rebuild_usage_errors_and_unknown_names(ssc: Ssc, app: nuget.NuGetApp) -> None:
    unsupported = ssc("rebuild", "pypi", expect=2, env=OFFLINE)
    assert "keeps none; use one of nuget" in unsupported.stderr
    no_archive = ssc.json("rebuild", "nuget", expect=2, env=OFFLINE)
    assert no_archive["exit_code"] == 2 and "no NuGet leaf archive" in no_archive["error"]
    ssc("ingest", "nuget")
    before = ssc.export()
    unknown = ssc.json("rebuild", "nuget", "--name", "Not.There", expect=1, env=OFFLINE)
    assert unknown["packages_rebuilt"] == 0 and unknown["not_extracted"] == 1
    assert [f["package"] for f in unknown["failures"]] == ["not.there"]
    assert ssc.export() == before  # a name asked for is not invented in the graph


def test_rebuild_holds_the_update_lock(ssc: Ssc, app: nuget.NuGetApp) -> None:
    ssc("ingest", "nuget")
    with file_lock(_data_dir(ssc), "update-nuget"):
        held = ssc("rebuild", "nuget", expect=75, env=OFFLINE)
        assert "update nuget" in held.stderr and "wrote nothing" in held.stderr
        preview = ssc("rebuild", "nuget", "--dry-run", env=OFFLINE)  # writes nothing: no lock
        assert "rebuild nuget: 12 packages rebuilt (36 versions" in preview.stderr
        assert preview.stderr.rstrip().endswith("(dry run: nothing written)")


def test_damaged_archive_fails_its_packages_then_leaves_them_to_update(
    ssc: Ssc, app: nuget.NuGetApp
) -> None:
    ssc("ingest", "nuget")
    before = ssc.export()
    page = _data_dir(ssc) / "nuget" / "catalog" / "pages" / "page0.jsonl.gz"
    page.write_bytes(b"not gzip at all" * 100)
    first = ssc.json("rebuild", "nuget", expect=1, env=OFFLINE)
    failed = sorted(f["package"] for f in first["failures"])
    assert failed and all("unreadable archive" in f["reason"] for f in first["failures"])
    assert first["packages_rebuilt"] == 12 - len(failed)
    assert ssc.export() == before
    # Recorded like any failed refresh: the next update refetches them; rebuild leaves them.
    second = ssc.json("rebuild", "nuget", env=OFFLINE)
    assert second["retry_pending"] == len(failed) and second["errors"] == 0


def test_rebuild_from_archive_skips_ids_it_does_not_describe(tmp_path: Path) -> None:
    archive = CatalogArchive(tmp_path / "nuget" / "catalog")
    stamp = "2024-01-01T00:00:00.0000000Z"
    partial = CatalogItem("http://x/a.1.json", "details", stamp, "A", "1.0.0")
    archive.store_page("http://x/page9.json", stamp, 5, [(partial, {"id": "A"})], complete=False)
    resolved = CatalogItem("http://x/b.1.json", "details", stamp, "B", "1.0.0")
    leaf = {"id": "B", "version": "1.0.0", "created": stamp, "listed": True}
    archive.store_resolved("b", stamp, [(resolved, leaf)])
    archive.close()
    records = list(rebuild_from_archive(tmp_path, frozenset({"runtime"})))
    # "a" was seen by an update's partial walk only: its other versions were never read.
    assert [(r.name, [v.name for v in r.versions]) for r in records] == [("b", ["1.0.0"])]


def test_rebuild_classifies_the_packages_it_wrote(ssc: Ssc, app: nuget.NuGetApp) -> None:
    from ssc_cli.graph.sqlite import SqliteStore
    from tests.licenses.spdx_data import real_list

    ssc("ingest", "nuget")  # no SPDX list yet: nothing classified
    lst = real_list()
    store = SqliteStore(Path(ssc.graph_uri.removeprefix("sqlite:///")))
    store.replace_license_list(lst.version, lst.release_date, lst.records)  # no reclassification
    store.close()
    summary = ssc.json("rebuild", "nuget", env=OFFLINE)
    assert summary["classified"]["packages"] == 12
    assert summary["classified"]["by_status"]["open_source"] == 12  # licenseExpression MIT
    assert ssc.json("rebuild", "nuget", env=OFFLINE)["classified"]["packages"] == 0  # unchanged


def test_rebuild_attributes_the_versions_it_writes_offline(
    ssc: Ssc, app: nuget.NuGetApp, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    import json

    ssc("ingest", "nuget")  # no advisories yet: written unattributed
    record = {
        "id": "GHSA-n",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "NuGet", "name": "synthetic.pkg3"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.1.0"}]}]}],
    }  # fmt: skip
    (tmp_path / "a.json").write_text(json.dumps(record))
    ssc.json("vulns", "sync", str(tmp_path / "a.json"))
    fake_registry.clear_log()
    summary = ssc.json("rebuild", "nuget", "--name", "Synthetic.Pkg3", env=OFFLINE)
    assert fake_registry.requests() == []
    assert summary["vulnerabilities"]["vulnerable_versions"] == 2
    versions = {
        v["name"]: v
        for v in ssc.export()
        if v["type"] == "version" and v["package"] == "pkg:nuget/synthetic.pkg3"
    }
    assert versions["1.1.0"]["vulnerabilities"] == ["GHSA-n"]
    assert versions["1.1.0"]["unscored_vulnerabilities"] == 1  # no severity: unscored
    assert versions["1.0.0"]["vulnerabilities"] == []
    assert versions["1.0.0"]["unscored_vulnerabilities"] == 0
