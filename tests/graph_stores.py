"""Stores for the graph tests: SQLite, a real Neo4j 5, Neo4jStore on the Cypher emulator; record builders.

The real Neo4j is the test process's own server (tests/real_servers.py), or SSC_TEST_NEO4J_URI.
Tests on it carry the `neo4j` marker, which gives them an empty database; an external server is
wiped whole, so point SSC_TEST_NEO4J_URI at a throwaway database.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.graph import neo4j as neo4j_store
from ssc_cli.graph.interface import GraphStore
from ssc_cli.graph.neo4j import Neo4jStore
from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem, PackageRecord, Requirement, VersionRecord
from tests.cypher_emulator import EmulatedGraphDatabase
from tests.real_servers import neo4j_target, wipe_neo4j

PYPI, NPM, MAVEN, CARGO = Ecosystem.PYPI, Ecosystem.NPM, Ecosystem.MAVEN, Ecosystem.CARGO
SSC_LABELS = [e.label for e in Ecosystem] + ["Version", "SscCursor", "SscRun", "SscFailure"]
SSC_LABELS += ["SscCounter", "License", "LicenseException", "SscLicenseList", "SscCheck"]
# The contract runs on the embedded store and the real server; the emulator stays for what only
# it can do (inject transient failures into a transaction, see test_graph_store_internals.py).
NEO4J = pytest.param("neo4j", marks=pytest.mark.neo4j)
KINDS = ["sqlite", NEO4J]


def real_neo4j() -> tuple[str, str, str, str | None]:
    target = neo4j_target()
    return target.uri, target.user, target.password, target.database


def need_ocg() -> None:
    """The emulated Neo4j runs need ocg (test extra); outside CI its absence only skips them."""
    try:
        import ocg  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("ocg is not installed (pip install -e '.[test]'): emulated Neo4j runs skipped")


def wipe_real_neo4j() -> None:
    wipe_neo4j()


def open_store(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GraphStore:
    """A fresh, migrated store of the given kind."""
    store: GraphStore
    if kind == "sqlite":
        store = SqliteStore(tmp_path / f"graph-{time.monotonic_ns()}.sqlite")
    elif kind == "neo4j-emulated":
        need_ocg()
        monkeypatch.setattr(neo4j_store, "GraphDatabase", EmulatedGraphDatabase())
        store = Neo4jStore("bolt://emulated:7687", "neo4j", "not-a-real-password")
    else:
        uri, user, password, database = real_neo4j()
        wipe_real_neo4j()
        store = Neo4jStore(uri, user, password, database=database)
    store.migrate()
    return store


def req(name: str, constraints: str = "any", **kw: Any) -> Requirement:
    return Requirement(name=name, constraints=constraints, raw_constraints=kw.pop("raw", ""), **kw)


def ver(name: str, deps: list[Requirement] | None = None, **kw: Any) -> VersionRecord:
    return VersionRecord(
        name=name, release_date=kw.pop("date", f"2024-01-01T00:00:{name}"), requirements=deps, **kw
    )


def pkg(
    name: str, versions: list[VersionRecord], eco: Ecosystem = PYPI, **kw: Any
) -> PackageRecord:
    return PackageRecord(ecosystem=eco, name=name, versions=versions, **kw)


def run_sql(store: GraphStore, sql: str, cypher_text: str, **params: Any) -> None:
    """A write the protocol does not offer (the vulnerability job's), done natively per store."""
    if isinstance(store, SqliteStore):
        store._db.execute(sql, params)
        return
    assert isinstance(store, Neo4jStore)
    with store._driver.session(database=store._database) as session:
        session.execute_write(lambda tx: tx.run(cypher_text, params).consume())


def query(store: GraphStore, sql: str, cypher_text: str, **params: Any) -> list[dict[str, Any]]:
    """A read the protocol does not offer, done natively per store."""
    if isinstance(store, SqliteStore):
        return [dict(row) for row in store._db.execute(sql, params)]
    assert isinstance(store, Neo4jStore)
    with store._driver.session(database=store._database) as session:
        rows: list[dict[str, Any]] = session.execute_read(
            lambda tx: tx.run(cypher_text, params).data()
        )
        return rows


def of_type(
    store: GraphStore, kind: str, ecosystem: Ecosystem | None = None
) -> list[dict[str, Any]]:
    return [row for row in store.export(ecosystem) if row["type"] == kind]
