"""The licence part of the GraphStore contract, on every store of tests/graph_stores.py KINDS."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ssc_cli.graph.interface import GraphStore
from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import (
    Classification,
    Ecosystem,
    LicenseRecord,
    PackageRecord,
    Verdict,
    VersionRecord,
)
from tests.graph_stores import KINDS, of_type, open_store, query

NPM = Ecosystem.NPM
RECORDS = [
    LicenseRecord(
        "MIT",
        "MIT License",
        osi_approved=True,
        fsf_libre=True,
        see_also=("https://opensource.org/license/mit/",),
    ),
    LicenseRecord("CC0-1.0", "Creative Commons Zero v1.0 Universal", fsf_libre=True),
    LicenseRecord("JSON", "JSON License", fsf_libre=False),
    LicenseRecord("GPL-2.0", "GNU General Public License v2.0 only", True, True, deprecated=True),
    LicenseRecord("Classpath-exception-2.0", "Classpath exception 2.0", is_exception=True),
]


@pytest.fixture(params=KINDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> GraphStore:
    opened = open_store(request.param, tmp_path, monkeypatch)
    yield opened
    opened.close()


def _npm(name: str, *versions: tuple[str, str | None]) -> PackageRecord:
    return PackageRecord(
        ecosystem=NPM,
        name=name,
        versions=[
            VersionRecord(v, requirements=[], licenses={"license": lic} if lic else {})
            for v, lic in versions
        ],
        licenses={"license": versions[-1][1]} if versions[-1][1] else {},
    )


def test_a_list_is_stored_counted_and_read_back(store: GraphStore) -> None:
    assert store.license_list_info() is None
    store.replace_license_list("3.28.0", "2026-02-20T00:00:00Z", RECORDS)
    info = store.license_list_info()
    assert info is not None
    assert (info.version, info.release_date) == ("3.28.0", "2026-02-20T00:00:00Z")
    assert (info.licenses, info.osi_approved, info.exceptions) == (4, 2, 1)
    assert info.synced_at
    back = {r.spdx_id: r for r in store.license_records()}
    assert back == {r.spdx_id: r for r in RECORDS}  # fsf_libre None stays None, not False


def test_a_newer_list_rewrites_every_record_and_keeps_ids_it_lacks(store: GraphStore) -> None:
    store.replace_license_list("3.28.0", None, RECORDS)
    changed = [
        LicenseRecord("MIT", "MIT License", True, True),  # seeAlso gone
        LicenseRecord("New-1.0", "New 1.0", osi_approved=True),
    ]
    store.replace_license_list("3.29.0", None, changed)
    info = store.license_list_info()
    assert info is not None and info.version == "3.29.0"
    assert (info.licenses, info.osi_approved, info.exceptions) == (2, 2, 0)  # of 3.29.0
    back = {r.spdx_id: r for r in store.license_records()}
    assert back["MIT"].see_also == () and "New-1.0" in back
    assert "JSON" in back  # SPDX deprecates ids, it never deletes them
    rows = query(
        store,
        "SELECT count(*) AS n FROM licenses WHERE spdx_id = 'MIT'",
        "MATCH (l:License {spdx_id: 'MIT'}) RETURN count(l) AS n",
    )
    assert rows[0]["n"] == 1  # upserted, not duplicated


def test_inputs_page_by_purl_with_versions_and_since(store: GraphStore) -> None:
    store.write_packages([_npm(f"p{i}", ("1.0.0", "MIT"), ("2.0.0", "ISC")) for i in range(5)])
    store.mark(NPM, ["pending-one"], "pending")
    first = store.license_inputs(NPM, limit=3)
    assert [p.name for p in first] == ["p0", "p1", "p2"]
    rest = store.license_inputs(NPM, after=first[-1].purl, limit=3)
    assert [p.name for p in rest] == ["p3", "p4"]  # the pending package is not extracted
    versions = sorted((v.name, v.licenses) for v in first[0].versions)
    assert versions == [("1.0.0", '{"license":"MIT"}'), ("2.0.0", '{"license":"ISC"}')]
    assert first[0].licenses == '{"license":"ISC"}' and first[0].oss_status is None
    assert store.license_inputs(NPM, since="2999-01-01T00:00:00+00:00") == []
    assert len(store.license_inputs(NPM, since="2000-01-01T00:00:00+00:00")) == 5
    seen, after = [], ""
    while True:  # pages of what was written since, each starting at the last one's cursor
        page = store.license_inputs(NPM, after=after, limit=2, since="2000-01-01T00:00:00+00:00")
        seen += [p.name for p in page]
        if len(page) < 2:
            break
        after = page[-1].cursor
    assert sorted(seen) == [f"p{i}" for i in range(5)]
    assert [p.name for p in store.license_inputs_of(NPM, ["p4", "p1", "nope"])] == ["p1", "p4"]


def test_classifications_are_written_exported_shown_and_counted(store: GraphStore) -> None:
    store.write_packages(
        [_npm("a", ("1.0.0", "GPL-2.0"), ("2.0.0", "MIT")), _npm("b", ("1.0.0", None))]
    )
    assert of_type(store, "package")[0].get("oss_status") is None  # nothing before classifying
    assert store.oss_status_counts() == {"npm": {"unclassified": 2}}
    mit = Verdict("open_source", "spdx-osi", "MIT", "MIT", ("MIT",))
    gpl = Verdict("open_source", "spdx-osi", "GPL-2.0-only", "GPL-2.0", ("GPL-2.0-only",))
    results = [
        Classification(NPM.purl("a"), mit, "d1", [(NPM.purl("a", "1.0.0"), gpl)]),
        Classification(NPM.purl("b"), Verdict("unknown", "no-signal"), "d2"),
    ]
    store.write_classifications(NPM, results, "3.28.0")
    packages = {p["name"]: p for p in of_type(store, "package")}
    assert {
        k: packages["a"][k]
        for k in (
            "license_expression",
            "license_raw",
            "oss_status",
            "oss_reason",
            "license_ids",
            "license_list_version",
        )
    } == {
        "license_expression": "MIT",
        "license_raw": "MIT",
        "oss_status": "open_source",
        "oss_reason": "spdx-osi",
        "license_ids": ["MIT"],
        "license_list_version": "3.28.0",
    }
    assert packages["a"]["classified_at"]
    assert packages["b"]["oss_status"] == "unknown" and packages["b"]["license_ids"] == []
    versions = {v["name"]: v for v in of_type(store, "version") if v["package"] == NPM.purl("a")}
    assert versions["1.0.0"]["license_expression"] == "GPL-2.0-only"
    assert "oss_status" not in versions["2.0.0"]  # shares the package's verdict
    shown = store.show(NPM, "a")
    assert shown is not None and shown["oss_status"] == "open_source"
    assert [v.get("oss_reason") for v in shown["versions"]] == ["spdx-osi", None]
    assert store.oss_status_counts() == {"npm": {"open_source": 1, "unknown": 1}}
    again = store.license_inputs_of(NPM, ["a"])[0]
    assert (again.digest, again.list_version, again.oss_status) == ("d1", "3.28.0", "open_source")
    assert {v.name: v.oss_status for v in again.versions} == {"1.0.0": "open_source", "2.0.0": None}
    # A version's own verdict is cleared when it shares the package's again.
    store.write_classifications(
        NPM, [Classification(NPM.purl("a"), mit, "d3", [(NPM.purl("a", "1.0.0"), None)])], "3.28.0"
    )
    assert all("oss_status" not in v for v in of_type(store, "version"))


def test_export_is_the_same_from_every_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports = []
    for kind in ("sqlite", "neo4j-emulated"):
        s = open_store(kind, tmp_path / kind, monkeypatch)
        s.write_packages([_npm("a", ("1.0.0", "MIT"))])
        s.write_classifications(
            NPM,
            [
                Classification(
                    NPM.purl("a"), Verdict("open_source", "spdx-osi", "MIT", "MIT", ("MIT",)), "d"
                )
            ],
            "3.28.0",
        )
        rows = list(s.export())
        for row in rows:
            row.pop("classified_at", None)
        exports.append(rows)
        s.close()
    assert exports[0] == exports[1]


def test_an_older_sqlite_graph_gains_the_licence_tables(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    from ssc_cli.graph.sqlite_schema import SCHEMA

    old.executescript(SCHEMA)  # what an ssc before licences created
    old.execute(
        "INSERT INTO packages (purl, ecosystem, name, status, licenses) "
        """VALUES ('pkg:npm/x', 'npm', 'x', 'extracted', '{"license":"MIT"}')"""
    )
    old.commit()
    old.close()
    store = SqliteStore(path)
    store.migrate()
    store.migrate()  # idempotent
    tables = {r[0] for r in store._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"licenses", "package_licenses", "version_licenses", "license_list"} <= tables
    [x] = store.license_inputs(NPM)
    assert (x.name, x.licenses, x.oss_status) == ("x", '{"license":"MIT"}', None)
    verdict = Verdict("open_source", "spdx-osi", "MIT", "MIT", ("MIT",))
    store.write_classifications(NPM, [Classification(x.purl, verdict, "d")], "3.28.0")
    assert of_type(store, "package")[0]["oss_status"] == "open_source"
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint"):
        store._db.execute("UPDATE package_licenses SET oss_status = 'maybe'")
    store.close()
