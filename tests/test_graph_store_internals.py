"""Store behaviour outside the shared contract: Neo4j errors, driver use, transactions; SQLite failures."""

from __future__ import annotations

import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from neo4j.exceptions import AuthError, Neo4jError

from ssc_cli.errors import GraphUnavailable
from ssc_cli.graph import cypher, cypher_licenses
from ssc_cli.graph import neo4j as neo4j_store
from ssc_cli.graph.neo4j import Neo4jStore
from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem
from tests.cypher_emulator import EmulatedGraphDatabase, Transaction
from tests.graph_stores import NPM, need_ocg, open_store, pkg, req, ver


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("call", ["ping", "migrate", "write", "export"])
def test_unreachable_neo4j_fails_fast_without_the_password(call: str) -> None:
    secret = "s3cret-Passw0rd"
    store = Neo4jStore(f"bolt://127.0.0.1:{_free_port()}", "neo4j", secret)
    started = time.monotonic()
    with pytest.raises(GraphUnavailable) as caught:
        if call == "ping":
            store.ping()
        elif call == "migrate":
            store.migrate()
        elif call == "write":
            store.write_packages([pkg("a", [ver("1.0")])])
        else:
            list(store.export())
    store.close()
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "127.0.0.1" in message and "SSC_GRAPH_URI" in message
    assert secret not in message
    assert caught.value.exit_code == 5


@pytest.mark.parametrize(
    "uri",
    ["bolt://neo4j:hunter2@127.0.0.1:1/?bad=[", "http://neo4j:hunter2@127.0.0.1:7474", "127.0.0.1"],
)
def test_bad_neo4j_uri_is_a_graph_error_without_the_password(uri: str) -> None:
    with pytest.raises(GraphUnavailable) as caught:
        Neo4jStore(uri, "neo4j", "hunter2")
    assert "hunter2" not in str(caught.value)
    assert "SSC_GRAPH_URI" in str(caught.value)


def test_driver_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    need_ocg()
    fake = EmulatedGraphDatabase()
    monkeypatch.setattr(neo4j_store, "GraphDatabase", fake)
    store = Neo4jStore("neo4j://db:7687", "reader", "pw", database="graph")
    store.migrate()
    [driver] = fake.drivers
    assert driver.config["auth"] == ("reader", "pw")
    assert "notifications_min_severity" not in driver.config  # filtering needs Neo4j >= 5.7
    assert driver.config["max_transaction_retry_time"] > 0
    assert driver.schema == cypher.schema_statements() + cypher_licenses.schema_statements()
    store.close()
    assert driver.closed


def test_write_packages_is_one_transaction_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    need_ocg()
    fake = EmulatedGraphDatabase()
    monkeypatch.setattr(neo4j_store, "GraphDatabase", fake)
    store = Neo4jStore("bolt://db:7687", "neo4j", "pw")
    calls: list[str] = []
    real = store._write

    def counting(action: str, fn: Any) -> Any:
        calls.append(action)
        return real(action, fn)

    monkeypatch.setattr(store, "_write", counting)
    store.write_packages([pkg("a", [ver("1.0", [req("b")])]), pkg("x", [ver("1")], eco=NPM)])
    assert calls == ["writing packages"]
    queries = fake.drivers[0].queries
    assert all(q.startswith("UNWIND $") for q in queries)  # batched, never one statement per row
    store.close()


def test_only_the_neo4j_store_imports_the_driver() -> None:
    # Only ssc_cli/graph/neo4j.py may import the driver.
    root = Path(__file__).resolve().parents[1] / "ssc_cli"
    importers = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "import neo4j" in path.read_text() or "from neo4j" in path.read_text()
    )
    assert importers == ["graph/neo4j.py"]


def test_sqlite_schema_matches_documented_tables(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.sqlite")
    store.migrate()
    db = sqlite3.connect(tmp_path / "g.sqlite")
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    store.close()
    assert tables == {
        "packages",
        "versions",
        "requires",
        "cursors",
        "runs",
        "failures",
        "requirement_files",
        "requirement_file_requires",
        "licenses",
        "license_exceptions",
        "license_list",
        "package_licenses",
        "version_licenses",
        "check_results",
    }


def test_sqlite_failed_write_is_rolled_back_as_a_graph_error(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.sqlite")
    store.migrate()
    store._db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON versions BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(GraphUnavailable, match="disk full"):
        store.write_packages([pkg("a", [ver("1.0")])])
    assert not store._db.in_transaction
    assert list(store.export()) == []  # the package row of the failed batch went too
    store._db.execute("DROP TRIGGER boom")
    store.write_packages([pkg("a", [ver("1.0")])])
    assert [r["type"] for r in store.export()] == ["package", "version"]
    store.close()


def test_sqlite_read_errors_are_graph_errors(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.sqlite")
    store.migrate()
    store._db.execute("DROP TABLE versions")  # what a damaged file looks like to a query
    with pytest.raises(GraphUnavailable, match="cannot read the SQLite graph"):
        list(store.export())
    store._db.execute("DROP TABLE packages")
    with pytest.raises(GraphUnavailable, match="no such table"):
        store.statuses(Ecosystem.PYPI, ["a"])
    store.close()


def test_neo4j_write_is_safe_to_retry_and_atomic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver re-runs a transaction function after a transient error: nothing may leak."""
    reference = open_store("sqlite", tmp_path, monkeypatch)
    store = open_store("neo4j-emulated", tmp_path, monkeypatch)
    assert isinstance(store, Neo4jStore)
    driver = store._driver
    records = [pkg("a", [ver("1.0", [req("b")]), ver("2.0")]), pkg("b", [ver("1.0")])]
    driver.transient_failures = 2  # type: ignore[attr-defined]
    stats = store.write_packages(records)
    assert driver.retries == 2  # type: ignore[attr-defined]
    assert (stats.packages, stats.new_versions) == (2, 3)  # not 0: counted inside the retried work
    reference.write_packages(records)
    assert list(store.export()) == list(reference.export())

    def broken(tx: Any) -> None:
        tx.run("UNWIND $rows AS row CREATE (:PyPIPackage {purl: row})", {"rows": ["pkg:pypi/x"]})
        raise RuntimeError("bug in the middle of a batch")

    with pytest.raises(RuntimeError), store._driver.session() as session:
        session.execute_write(broken)
    assert list(store.export()) == list(reference.export())  # rolled back
    store.close()
    reference.close()


class _IndexClash(Neo4jError):
    """What Neo4j answers when a dump's plain index sits where ssc wants a constraint."""

    code = "Neo.ClientError.Schema.IndexAlreadyExists"


class _Forbidden(Neo4jError):
    code = "Neo.ClientError.Security.Forbidden"


def _emulated(monkeypatch: pytest.MonkeyPatch) -> tuple[Neo4jStore, Any]:
    need_ocg()
    fake = EmulatedGraphDatabase()
    monkeypatch.setattr(neo4j_store, "GraphDatabase", fake)
    store = Neo4jStore("bolt://db:7687", "ssc", "pw-never-shown")
    return store, fake.drivers[0]


def test_migrate_keeps_an_existing_index_in_place_of_a_constraint(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store, driver = _emulated(monkeypatch)
    real_run = Transaction.run

    def run(self: Transaction, query: str, parameters: dict[str, Any] | None = None) -> Any:
        if query.startswith("CREATE CONSTRAINT ssc_pypipackage_purl"):
            raise _IndexClash("There already exists an index (:PyPIPackage {purl})")
        return real_run(self, query, parameters)

    monkeypatch.setattr(Transaction, "run", run)
    store.migrate()
    assert "IndexAlreadyExists" in caplog.text
    every = cypher.schema_statements() + cypher_licenses.schema_statements()
    assert len(driver.schema) == len(every) - 1  # the rest still ran

    def refuse(self: Transaction, query: str, parameters: dict[str, Any] | None = None) -> Any:
        raise _Forbidden("Schema operations are not allowed for user 'ssc'")

    monkeypatch.setattr(Transaction, "run", refuse)
    with pytest.raises(GraphUnavailable, match="Forbidden") as caught:
        store.migrate()
    assert "bolt://db:7687" in str(caught.value) and "pw-never-shown" not in str(caught.value)
    store.close()


def test_refused_credentials_name_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    store, driver = _emulated(monkeypatch)

    def unauthorized() -> None:
        raise AuthError("The client is unauthorized due to authentication failure.")

    monkeypatch.setattr(driver, "verify_connectivity", unauthorized)
    with pytest.raises(GraphUnavailable) as caught:
        store.count(Ecosystem.PYPI, "pending")
    message = str(caught.value)
    assert "SSC_GRAPH_USER / SSC_GRAPH_PASSWORD" in message and "'ssc'" in message
    assert "pw-never-shown" not in message
    store.close()


def test_the_sqlite_page_cache_follows_its_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ssc_cli.errors import ConfigError
    from ssc_cli.graph import open_store as open_configured
    from ssc_cli.settings import load_settings

    monkeypatch.chdir(tmp_path)
    for key in ("SSC_GRAPH_URI", "GRAPH_DB_URI", "SSC_SQLITE_CACHE_MB"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SSC_DATA_DIR", str(tmp_path / "data"))
    default = open_configured(load_settings())
    assert isinstance(default, SqliteStore)
    assert default._db.execute("PRAGMA cache_size").fetchone()[0] == -64 * 1024
    default.close()
    monkeypatch.setenv("SSC_SQLITE_CACHE_MB", "8")
    small = open_configured(load_settings())
    assert isinstance(small, SqliteStore)
    assert small._db.execute("PRAGMA cache_size").fetchone()[0] == -8 * 1024
    small.close()
    monkeypatch.setenv("SSC_SQLITE_CACHE_MB", "1")
    with pytest.raises(ConfigError, match="SSC_SQLITE_CACHE_MB"):
        load_settings()


def _operators(plan: Any) -> list[str]:
    name = str(plan["operatorType"]).split("@")[0]
    return [name] + [op for child in plan.get("children", []) for op in _operators(child)]


@pytest.mark.neo4j
def test_every_batch_statement_plans_on_the_purl_constraints_without_eager(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: the statements each write batch runs seek by purl, stream row by row, no scans."""
    store = open_store("neo4j", tmp_path, monkeypatch)
    assert isinstance(store, Neo4jStore)
    statements = [
        cypher.stored_versions_query(Ecosystem.NPM),
        cypher.upsert_packages_query(Ecosystem.NPM),
        cypher.upsert_versions_query(Ecosystem.NPM),
        cypher.create_targets_query(Ecosystem.NPM),
        cypher.merge_edges_query(Ecosystem.NPM),
    ]
    try:
        for statement in statements:
            summary = store._driver.execute_query(f"EXPLAIN {statement}", rows=[], purls=[])
            operators = _operators(summary.summary.plan)
            # An Eager operator holds the whole batch in memory before writing; a scan or a
            # cartesian product means a lookup missed the purl constraint.
            assert not {"Eager", "CartesianProduct", "NodeByLabelScan", "AllNodesScan"} & set(
                operators
            ), (statement, operators)
            seeks = operators.count("NodeUniqueIndexSeek(Locking)") + operators.count(
                "NodeUniqueIndexSeek"
            )
            assert seeks == statement.count("{purl:"), (statement, operators)
    finally:
        store.close()
