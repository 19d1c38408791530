"""`ssc licenses sync` through the real command: unchanged -> zero writes, newer -> rewrite and
reclassification, empty or shrunken -> exit 3 and nothing changed; from a folder and over HTTP."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem, PackageRecord, VersionRecord
from tests.conftest import Ssc
from tests.fakeregistry.server import FakeRegistry
from tests.fakeregistry.spdx import SpdxApp
from tests.licenses.spdx_data import NEW_LICENSE, SPDX_DIR, write_list

NPM = Ecosystem.NPM


def _graph(ssc: Ssc) -> Path:
    return Path(ssc.graph_uri.split("sqlite:///", 1)[1])


def _dump(ssc: Ssc) -> list[str]:
    """Every row of the graph except the run records (which every run adds)."""
    db = sqlite3.connect(_graph(ssc))
    try:
        return [line for line in db.iterdump() if not line.startswith('INSERT INTO "runs"')]
    finally:
        db.close()


def _runs(ssc: Ssc) -> list[tuple[str, str]]:
    db = sqlite3.connect(_graph(ssc))
    try:
        return [(r[0], r[1]) for r in db.execute("SELECT job, status FROM runs ORDER BY id")]
    finally:
        db.close()


def _seed_packages(ssc: Ssc) -> None:
    """Two extracted npm packages, one under a licence 3.28.0 does not know yet."""
    store = SqliteStore(_graph(ssc))
    store.migrate()
    store.write_packages(
        [
            PackageRecord(
                NPM,
                name,
                [VersionRecord("1.0.0", requirements=[], licenses={"license": lic})],
                licenses={"license": lic},
            )
            for name, lic in (("known", "MIT"), ("new", "Example-Open-1.0"))
        ]
    )
    store.close()


def _package(ssc: Ssc, name: str) -> dict[str, Any]:
    return next(p for p in ssc.export() if p["type"] == "package" and p["name"] == name)


def test_unchanged_list_writes_nothing_and_a_newer_one_rewrites_and_reclassifies(
    ssc: Ssc, tmp_path: Path
) -> None:
    _seed_packages(ssc)
    first = ssc.json("licenses", "sync", str(SPDX_DIR))
    assert first["written"] and first["license_list_version"] == "3.28.0"
    assert (first["licenses"], first["osi_approved"], first["exceptions"]) == (727, 149, 84)
    assert first["reclassified"]["packages_classified"] == 2
    assert _package(ssc, "known")["oss_status"] == "open_source"
    assert _package(ssc, "new")["oss_reason"] == "unknown-id"  # not on 3.28.0

    before = _dump(ssc)
    again = ssc.json("licenses", "sync", str(SPDX_DIR))
    assert again["skipped"] == "unchanged" and not again["written"]
    assert again["reclassified"] is None
    assert _dump(ssc) == before  # zero writes besides the run record
    assert _runs(ssc)[-1] == ("licenses-sync", "ok")

    newer = write_list(tmp_path / "3.29", version="3.29.0", add=[NEW_LICENSE])
    summary = ssc.json("licenses", "sync", str(newer))
    assert summary["written"] and summary["previous_version"] == "3.28.0"
    assert summary["licenses"] == 728
    assert summary["reclassified"]["packages_classified"] == 2
    assert summary["reclassified"]["verdicts_changed"] == 1
    new = _package(ssc, "new")
    assert (new["oss_status"], new["license_expression"]) == ("open_source", "Example-Open-1.0")
    assert new["license_list_version"] == "3.29.0"
    assert _package(ssc, "known")["license_list_version"] == "3.29.0"
    assert [job for job, _ in _runs(ssc)].count("classify") == 2  # one per changed list


@pytest.mark.parametrize(
    ("kind", "message"),
    [("empty", "has no licences"), ("shrunken", "floor 90%"), ("no-osi", "no OSI-approved")],
)
def test_a_list_the_guards_refuse_exits_3_and_changes_nothing(
    ssc: Ssc, tmp_path: Path, kind: str, message: str
) -> None:
    _seed_packages(ssc)
    ssc("licenses", "sync", str(SPDX_DIR))
    before = _dump(ssc)
    bad = {
        "empty": lambda: write_list(tmp_path / kind, version="3.29.0", keep=0),
        "shrunken": lambda: write_list(tmp_path / kind, version="3.29.0", keep=500),
        "no-osi": lambda: write_list(tmp_path / kind, version="3.29.0", drop_osi=True),
    }[kind]()
    result = ssc("licenses", "sync", str(bad), "--json", expect=3)
    assert message in result.stderr and "nothing was written" in result.stderr
    assert '"exit_code": 3' in result.stdout
    assert _dump(ssc) == before
    assert _runs(ssc)[-1] == ("licenses-sync", "aborted")


def test_the_first_list_is_refused_when_empty(ssc: Ssc, tmp_path: Path) -> None:
    result = ssc("licenses", "sync", str(write_list(tmp_path / "e", keep=0)), expect=3)
    assert "has no licences" in result.stderr
    assert ssc("classify", expect=3).stderr.count("ssc licenses sync") == 1


def test_sync_over_http_from_ssc_spdx_url(
    ssc: Ssc, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    folder = write_list(tmp_path / "served")
    app = fake_registry.mount("spdx", SpdxApp(folder))
    env = {"SSC_SPDX_URL": fake_registry.url("spdx") + "/"}
    assert ssc.json("licenses", "sync", env=env)["written"]
    assert sorted(app.requests) == ["/exceptions.json", "/licenses.json"]
    assert ssc.json("licenses", "sync", env=env)["skipped"] == "unchanged"
    write_list(folder, version="3.29.0", add=[NEW_LICENSE])
    assert ssc.json("licenses", "sync", env=env)["license_list_version"] == "3.29.0"
    missing = ssc("licenses", "sync", fake_registry.url("spdx") + "/nowhere/", expect=4)
    assert "404" in missing.stderr


def test_a_file_that_is_no_list_is_named(ssc: Ssc, tmp_path: Path) -> None:
    folder = write_list(tmp_path / "broken")
    (folder / "exceptions.json").write_text('{"licenseListVersion": "3.28.0"}', encoding="utf-8")
    result = ssc("licenses", "sync", str(folder), expect=2)
    assert "exceptions.json" in result.stderr and "exceptions" in result.stderr
    assert "no such" not in result.stderr
    assert (
        ssc("licenses", "sync", str(tmp_path / "absent"), expect=2).stderr.count("licenses.json")
        >= 1
    )
