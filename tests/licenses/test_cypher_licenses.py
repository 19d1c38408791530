"""Every Cypher text of the licence store methods parses as Neo4j Cypher (graphglot)."""

from __future__ import annotations

import pytest

from ssc_cli.graph import cypher_licenses as cl
from ssc_cli.models import Ecosystem


def _every_statement() -> list[tuple[str, str]]:
    found = [(f"schema-{i}", text) for i, text in enumerate(cl.schema_statements())]
    found += [
        (name, value)
        for name, value in vars(cl).items()
        if name.isupper() and not name.startswith("_") and isinstance(value, str) and " " in value
    ]
    npm = Ecosystem.NPM
    found += [
        ("inputs_page", cl.inputs_page_query(npm, since=False)),
        ("inputs_page-since", cl.inputs_page_query(npm, since=True)),
        ("inputs_of", cl.inputs_of_query(npm)),
        ("write_packages", cl.write_packages_query(npm)),
        ("status_counts", cl.status_counts_query(npm)),
    ]
    return found


def test_schema_has_the_uniqueness_constraint_on_spdx_id() -> None:
    statements = cl.schema_statements()
    assert "FOR (n:License) REQUIRE n.spdx_id IS UNIQUE" in " ".join(statements)
    assert all(" IF NOT EXISTS " in s for s in statements)
    assert len({s.split()[2] for s in statements}) == len(statements)


@pytest.mark.parametrize(
    ("name", "text"), _every_statement(), ids=[n for n, _ in _every_statement()]
)
def test_every_statement_is_valid_neo4j_cypher(name: str, text: str) -> None:
    dialect = pytest.importorskip("graphglot.dialect").Dialect.get_or_raise("neo4j")
    result = dialect.validate(text)
    assert result.success and not result.diagnostics, f"{name}: {result.error}"
