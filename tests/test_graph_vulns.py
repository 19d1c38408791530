"""The attribution part of the GraphStore contract, on every store kind (graph_stores.KINDS)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssc_cli.graph.interface import GraphStore, VersionVulnRow
from ssc_cli.graph.sqlite import SqliteStore
from tests.graph_stores import KINDS, NPM, PYPI, of_type, open_store, pkg, ver, wipe_real_neo4j


@pytest.fixture(params=KINDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GraphStore]:
    opened = open_store(request.param, tmp_path, monkeypatch)
    try:
        yield opened
    finally:
        opened.close()
        if request.param == "neo4j":
            wipe_real_neo4j()


def attributed(name: str, ids: list[str], mean: float, unscored: int = 0) -> object:
    version = ver(name)
    version.vulnerabilities, version.mean, version.weighted_mean = ids, mean, mean
    version.unscored_vulnerabilities = unscored
    return version


def test_inline_attribution_is_written_and_an_unattributed_rewrite_keeps_it(
    store: GraphStore,
) -> None:
    store.write_packages([pkg("p", [attributed("1.0", ["CVE-1", "GHSA-1"], 7.5, 1), ver("2.0")])])  # type: ignore[list-item]
    versions = {v["name"]: v for v in of_type(store, "version")}
    assert versions["1.0"]["vulnerabilities"] == ["CVE-1", "GHSA-1"]
    assert (versions["1.0"]["mean"], versions["1.0"]["unscored_vulnerabilities"]) == (7.5, 1)
    assert "unscored_vulnerabilities" not in versions["2.0"]  # never attributed
    store.write_packages([pkg("p", [ver("1.0"), ver("2.0"), ver("3.0")])])
    versions = {v["name"]: v for v in of_type(store, "version")}
    assert (versions["1.0"]["vulnerabilities"], versions["1.0"]["mean"]) == (
        ["CVE-1", "GHSA-1"],
        7.5,
    )
    assert versions["3.0"]["vulnerabilities"] == [] and versions["3.0"]["mean"] == 0.0
    store.write_packages(
        [pkg("p", [attributed("1.0", [], 0.0)])],
    )
    versions = {v["name"]: v for v in of_type(store, "version")}
    assert (versions["1.0"]["vulnerabilities"], versions["1.0"]["unscored_vulnerabilities"]) == (
        [],
        0,
    )


def test_rows_are_read_by_package_and_written_in_one_batch(store: GraphStore) -> None:
    store.write_packages(
        [
            pkg("p", [ver("1.0"), ver("2.0")]),
            pkg("q", [ver("1.0")]),
            pkg("p", [ver("9.9.9")], eco=NPM),
        ]
    )
    rows = store.vuln_rows(PYPI, ["p", "q", "absent"])
    assert sorted(rows) == ["p", "q"]
    assert sorted(r.name for r in rows["p"]) == ["1.0", "2.0"]
    assert all(r.unscored is None and r.vulnerabilities == () for r in rows["p"])
    assert store.unattributed_versions(PYPI) == 3 and store.unattributed_versions(NPM) == 1
    assert store.unattributed_packages(PYPI) == ["p", "q"]
    one = next(r for r in rows["p"] if r.name == "1.0")
    written = store.write_vulns([
        VersionVulnRow(one.purl, "1.0", ("GHSA-9",), 9.8, 9.8, 0),
        VersionVulnRow(rows["q"][0].purl, "1.0", (), 0.0, 0.0, 0),
    ])  # fmt: skip
    assert written == 2
    again = store.vuln_rows(PYPI, ["p", "q"])
    assert next(r for r in again["p"] if r.name == "1.0") == VersionVulnRow(
        one.purl, "1.0", ("GHSA-9",), 9.8, 9.8, 0
    )
    assert store.unattributed_packages(PYPI) == ["p"] and store.unattributed_versions(PYPI) == 1
    shown = store.show(PYPI, "p")
    assert shown is not None
    assert {v["name"]: v["vulnerabilities"] for v in shown["versions"]} == {
        "1.0": ["GHSA-9"],
        "2.0": [],
    }


def test_an_older_sqlite_graph_gains_the_column_idempotently(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        """CREATE TABLE versions (id INTEGER PRIMARY KEY, purl TEXT NOT NULL UNIQUE,
               package_purl TEXT NOT NULL, name TEXT NOT NULL, serial_number INTEGER NOT NULL DEFAULT -1,
               release_date TEXT, yanked INTEGER NOT NULL DEFAULT 0, deprecated TEXT,
               vulnerabilities TEXT NOT NULL DEFAULT '[]', mean REAL NOT NULL DEFAULT 0.0,
               weighted_mean REAL NOT NULL DEFAULT 0.0, licenses TEXT, extra TEXT);
           INSERT INTO versions (purl, package_purl, name) VALUES ('pkg:pypi/p@1.0', 'pkg:pypi/p', '1.0');"""
    )
    old.commit()
    old.close()
    for _ in range(2):
        store = SqliteStore(path)
        store.migrate()
        assert store.unattributed_versions(PYPI) == 1
        store.close()
