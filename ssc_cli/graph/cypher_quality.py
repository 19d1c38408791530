"""Neo4j side of the quality checks: each check one Cypher query on an indexed property.

Counts read the per-label status index and the Version purl uniqueness index (STARTS WITH is a
range seek on it); runs are found by the SscRun job index; check results are SscCheck nodes, one
per (dataset, name). Pattern predicates (`NOT (...)-[:HAVE]->(v)`) rather than EXISTS {}
subqueries: both are Neo4j 5, and the first runs on the test emulator too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from ssc_cli.graph.cypher import CHECK, RUN, VERSION, label, purl_prefix
from ssc_cli.graph.interface import EXTRACTED, MISSING, PENDING
from ssc_cli.models import Ecosystem


class ManagedTransaction(Protocol):
    """The part of the driver's transaction used here (only graph/neo4j.py imports the driver)."""

    def run(self, query: str, parameters: dict[str, Any] | None = None) -> Any: ...


T = TypeVar("T")
# The constraint on SscCheck (dataset, name) and the SscRun job index are in
# cypher.schema_statements().

# Package names that normalise to one name (Ecosystem.normalize_name) are twins; as in SQLite,
# replacing each of _ and . finds PEP 503 twins.
_NAME_KEY = {
    Ecosystem.PYPI: "toLower(replace(replace(coalesce(p.name, p.purl), '_', '-'), '.', '-'))",
    Ecosystem.NUGET: "toLower(coalesce(p.name, p.purl))",
    Ecosystem.CARGO: "toLower(coalesce(p.name, p.purl))",
    Ecosystem.RUBYGEMS: "toLower(coalesce(p.name, p.purl))",
}


def graph_counts_query(eco: Ecosystem) -> str:
    lab = label(eco)
    return (
        f"OPTIONAL MATCH (p:{lab}) WHERE p.status = '{EXTRACTED}' WITH count(p) AS packages "
        f"OPTIONAL MATCH (p:{lab}) WHERE p.status = '{PENDING}' "
        "WITH packages, count(p) AS pending "
        f"OPTIONAL MATCH (p:{lab}) WHERE p.status = '{MISSING}' "
        "WITH packages, pending, count(p) AS missing "
        f"OPTIONAL MATCH (v:{VERSION}) WHERE v.purl STARTS WITH $prefix "
        "WITH packages, pending, missing, count(v) AS versions "
        f"OPTIONAL MATCH (v:{VERSION})-[r:REQUIRE]->() WHERE v.purl STARTS WITH $prefix "
        "RETURN packages, pending, missing, versions, count(r) AS edges"
    )


def orphan_versions_query(eco: Ecosystem) -> str:
    return (
        f"MATCH (v:{VERSION}) WHERE v.purl STARTS WITH $prefix "
        f"AND NOT (:{label(eco)})-[:HAVE]->(v) RETURN count(v) AS n"
    )


def dangling_edges_query(eco: Ecosystem) -> str:
    # A relationship always has both ends in Neo4j: "missing" is a target that is not a package
    # of the ecosystem with a purl (a node written by another tool, a stripped label).
    return (
        f"MATCH (v:{VERSION})-[r:REQUIRE]->(t) WHERE v.purl STARTS WITH $prefix "
        f"AND NOT (t:{label(eco)} AND t.purl IS NOT NULL) RETURN count(r) AS n"
    )


def duplicate_purls_query(eco: Ecosystem) -> str:
    key = _NAME_KEY.get(eco, "p.purl")
    # sum(CASE ...) rather than WHERE c > 1: an aggregation over no rows must still return one.
    return (
        f"OPTIONAL MATCH (p:{label(eco)}) WHERE p.purl IS NOT NULL "
        f"WITH {key} AS k, count(p) AS c "
        "WITH sum(CASE WHEN c > 1 THEN 1 ELSE 0 END) AS twins "
        f"OPTIONAL MATCH (v:{VERSION}) WHERE v.purl STARTS WITH $prefix "
        "WITH twins, v.purl AS k, count(v) AS c "
        # Neo4j refuses a grouping key inside an aggregate's expression: sum first, add after.
        "WITH twins, sum(CASE WHEN c > 1 THEN 1 ELSE 0 END) AS version_twins "
        "RETURN twins + version_twins AS n"
    )


RECENT_RUNS = (
    f"MATCH (r:{RUN}) WHERE r.job IN $jobs "
    "AND ($ecosystem IS NULL OR r.ecosystem = $ecosystem OR r.ecosystem IS NULL) "
    "RETURN r.id AS id, r.job AS job, r.ecosystem AS ecosystem, r.status AS status, "
    "r.started_at AS started_at, r.finished_at AS finished_at, r.summary AS summary "
    "ORDER BY id DESC LIMIT $max_rows"
)
RUN_DATASETS = f"MATCH (r:{RUN}) RETURN DISTINCT r.job AS job, r.ecosystem AS ecosystem"
SAVE_CHECKS = (
    f"UNWIND $rows AS row MERGE (c:{CHECK} {{dataset: row.dataset, name: row.name}}) "
    "SET c.severity = row.severity, c.blocking = row.blocking, c.passed = row.passed, "
    "c.measured = row.measured, c.threshold = row.threshold, c.message = row.message, "
    "c.checked_at = row.checked_at, c.run_id = row.run_id"
)
CHECK_RESULTS = (
    f"MATCH (c:{CHECK}) WHERE $datasets IS NULL OR c.dataset IN $datasets "
    "RETURN c.dataset AS dataset, c.name AS name, c.severity AS severity, "
    "c.blocking AS blocking, c.passed AS passed, c.measured AS measured, "
    "c.threshold AS threshold, c.message AS message, c.checked_at AS checked_at, "
    "c.run_id AS run_id"
)


def _rows(tx: ManagedTransaction, query: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(record) for record in tx.run(query, params).data()]


class _Store(Protocol):
    def _read(self, action: str, fn: Callable[[ManagedTransaction], T]) -> T: ...

    def _write(self, action: str, fn: Callable[[ManagedTransaction], T]) -> T: ...


def _count(store: _Store, action: str, query: str, eco: Ecosystem) -> int:
    rows = store._read(action, lambda tx: _rows(tx, query, prefix=purl_prefix(eco)))
    return int(rows[0]["n"] or 0) if rows else 0


class Neo4jQuality:
    """The quality methods of Neo4jStore (mixed in; it provides _read and _write)."""

    def graph_counts(self: _Store, ecosystem: Ecosystem) -> dict[str, int]:
        query = graph_counts_query(ecosystem)
        rows = self._read(
            "counting the graph", lambda tx: _rows(tx, query, prefix=purl_prefix(ecosystem))
        )
        row = rows[0] if rows else {}
        keys = ("packages", "pending", "missing", "versions", "edges")
        return {key: int(row.get(key) or 0) for key in keys}

    def orphan_versions(self: _Store, ecosystem: Ecosystem) -> int:
        return _count(self, "counting orphan versions", orphan_versions_query(ecosystem), ecosystem)

    def dangling_edges(self: _Store, ecosystem: Ecosystem) -> int:
        return _count(self, "counting dangling edges", dangling_edges_query(ecosystem), ecosystem)

    def duplicate_purls(self: _Store, ecosystem: Ecosystem) -> int:
        return _count(self, "counting duplicate purls", duplicate_purls_query(ecosystem), ecosystem)

    def recent_runs(
        self: _Store, jobs: Sequence[str], ecosystem: Ecosystem | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        params = {
            "jobs": list(jobs),
            "ecosystem": ecosystem.value if ecosystem else None,
            "max_rows": limit,
        }
        return self._read("reading runs", lambda tx: _rows(tx, RECENT_RUNS, **params))

    def run_datasets(self: _Store) -> list[tuple[str, str | None]]:
        rows = self._read("reading runs", lambda tx: _rows(tx, RUN_DATASETS))
        return sorted(
            {(str(r["job"]), r["ecosystem"]) for r in rows}, key=lambda p: (p[0], p[1] or "")
        )

    def save_check_results(self: _Store, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        params = [dict(row) for row in rows]
        self._write(
            "recording check results", lambda tx: tx.run(SAVE_CHECKS, {"rows": params}).consume()
        )

    def check_results(self: _Store, datasets: Sequence[str] | None = None) -> list[dict[str, Any]]:
        wanted = None if datasets is None else list(datasets)
        rows = self._read(
            "reading check results", lambda tx: _rows(tx, CHECK_RESULTS, datasets=wanted)
        )
        return sorted(rows, key=lambda r: (r["dataset"], r["name"]))
