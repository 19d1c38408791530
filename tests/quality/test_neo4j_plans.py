"""On Neo4j each graph check is one Cypher query with an index behind it (issue 12): the real
server's EXPLAIN plan of every check query starts from an index, never a scan of all nodes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.graph import cypher_quality
from ssc_cli.graph.cypher import purl_prefix
from ssc_cli.graph.neo4j import Neo4jStore
from ssc_cli.models import Ecosystem
from tests.graph_stores import open_store, wipe_real_neo4j

pytestmark = pytest.mark.neo4j

QUERIES = {
    "graph_counts": cypher_quality.graph_counts_query,
    "orphan_versions": cypher_quality.orphan_versions_query,
    "dangling_edges": cypher_quality.dangling_edges_query,
    "duplicate_purls": cypher_quality.duplicate_purls_query,
}
# Leaf operators that read through one of the schema's property indexes (the purl uniqueness
# constraints, the status indexes: graph/cypher.py). Not NodeByLabelScan (every node of a label)
# nor AllNodesScan. `Argument` is the inner side of a pattern predicate (NOT (..)-[:HAVE]->(v)).
INDEXED = ("NodeIndexSeek", "NodeUniqueIndexSeek", "NodeIndexScan", "NodeUniqueIndexScan")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Neo4jStore]:
    made = open_store("neo4j", tmp_path, monkeypatch)
    assert isinstance(made, Neo4jStore)
    yield made
    made.close()
    wipe_real_neo4j()


def _leaves(plan: Any) -> list[str]:
    children = list(plan.get("children") or [])
    if not children:
        return [str(plan["operatorType"]).split("@")[0]]
    return [leaf for child in children for leaf in _leaves(child)]


def _explain(store: Neo4jStore, query: str, eco: Ecosystem) -> Any:
    with store._driver.session(database=store._database) as session:
        result = session.run("EXPLAIN " + query, prefix=purl_prefix(eco))
        return result.consume().plan


@pytest.mark.parametrize("eco", list(Ecosystem), ids=lambda e: e.value)
@pytest.mark.parametrize("check", sorted(QUERIES))
def test_each_check_is_one_query_reading_through_an_index(
    store: Neo4jStore, check: str, eco: Ecosystem
) -> None:
    leaves = _leaves(_explain(store, QUERIES[check](eco), eco))
    assert _indexed(leaves), (check, leaves)


def test_a_query_without_an_index_is_told_apart(store: Neo4jStore) -> None:
    """The plan reading above can fail: scans of a label or of every node are seen."""
    for query in (
        "MATCH (v) WHERE v.purl STARTS WITH $prefix RETURN count(v) AS n",
        "MATCH (v:Version) WHERE v.mean > 1 RETURN count(v) AS n",
    ):
        leaves = _leaves(_explain(store, query, Ecosystem.PYPI))
        assert not _indexed(leaves), (query, leaves)


def _indexed(leaves: list[str]) -> bool:
    return (
        bool(leaves)
        and all(leaf.startswith(INDEXED) or leaf == "Argument" for leaf in leaves)
        and any(leaf.startswith(INDEXED) for leaf in leaves)
    )
