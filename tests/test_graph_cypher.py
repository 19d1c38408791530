"""The Cypher-building pieces of the Neo4j store, checked without any engine."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import neo4j.time
import pytest

from ssc_cli.graph import cypher, cypher_lease
from ssc_cli.graph.neo4j import moment_text
from ssc_cli.models import Ecosystem, PackageRecord, Requirement, VersionRecord


def test_labels_come_from_the_enum_only() -> None:
    assert [cypher.label(e) for e in Ecosystem] == [
        "PyPIPackage", "NPMPackage", "MavenPackage", "NuGetPackage", "CargoPackage", "RubyGemsPackage"
    ]  # fmt: skip
    with pytest.raises(ValueError):
        cypher.label("PyPIPackage) DETACH DELETE n //")  # type: ignore[arg-type]


def test_every_query_names_only_known_labels() -> None:
    known = {e.label for e in Ecosystem} | {
        "Version",
        "SscCursor",
        "SscRun",
        "SscFailure",
        "SscCounter",
        "SscCheck",
        "SscJobLease",
    }
    lease = [cypher_lease.ACQUIRE, cypher_lease.RENEW, cypher_lease.RELEASE]
    texts = [cypher.schema_statements(), lease] + [
        [
            cypher.upsert_packages_query(eco), cypher.upsert_versions_query(eco),
            cypher.create_targets_query(eco), cypher.merge_edges_query(eco),
            cypher.mark_query(eco), cypher.failed_packages_query(eco),
            cypher.versions_page_query(eco), cypher.packages_page_query(eco),
            cypher.tokens_page_query(eco), cypher.known_query(eco),
        ]
        for eco in Ecosystem
    ]  # fmt: skip
    for group in texts:
        for text in group:
            labels = set(re.findall(r"\((?:\w+)?:(\w+)", text))
            assert labels <= known, text
            assert text.count("(") == text.count(")") and text.count("{") == text.count("}")


def test_schema_statements() -> None:
    statements = cypher.schema_statements()
    assert all(" IF NOT EXISTS " in s for s in statements)
    assert len(set(statements)) == len(statements)
    for name in [e.label for e in Ecosystem] + ["Version"]:
        assert f"FOR (n:{name}) REQUIRE n.purl IS UNIQUE" in " ".join(statements)
        assert f"FOR (n:{name}) ON (n.name)" in " ".join(statements)
    names = [s.split()[2] for s in statements]
    assert len(set(names)) == len(names)  # every schema object has its own name


def test_export_order_follows_purls() -> None:
    ordered = cypher.export_order(list(Ecosystem))
    purls = [e.purl("g:a" if e is Ecosystem.MAVEN else "a") for e in ordered]
    assert all(p.startswith(cypher.purl_prefix(e)) for p, e in zip(purls, ordered, strict=True))
    assert purls == sorted(purls)
    assert [e.value for e in ordered] == ["cargo", "rubygems", "maven", "npm", "nuget", "pypi"]


def test_plan_of_a_complete_write() -> None:
    record = PackageRecord(
        Ecosystem.PYPI,
        "p",
        [
            VersionRecord(
                "2.0", requirements=[Requirement("b", ">=1"), Requirement("c", marker="m")]
            ),
            VersionRecord("1.0", requirements=None),
        ],
        import_names=["z", "a", "z"],
        extra={"k": 1},
    )
    stored = {"pkg:pypi/p": {"1.0": "pkg:pypi/p@1.0", "0.5": "pkg:pypi/p@0.5"}}
    plan = cypher.plan_write([record], stored, "2026-01-01T00:00:00+00:00")
    assert (plan.stats.packages, plan.stats.new_versions, plan.stats.removed_versions) == (1, 1, 1)
    assert plan.stale == ["pkg:pypi/p@0.5"] and plan.renumber == []
    [package] = plan.packages
    assert package["import_names"] == ["a", "z"] and package["extra"] == '{"k":1}'
    assert "licenses" not in package and package["status"] == "extracted"  # None: left out
    assert [(v["name"], v["serial_number"]) for v in plan.versions] == [("2.0", 1), ("1.0", 0)]
    assert plan.prune == []  # 2.0 is new: nothing to prune; 1.0 kept its edges (None)
    # One edge row per version, its edges listed; 1.0 (requirements None) has none.
    [edges] = plan.edges
    assert (edges["purl"], edges["package"]) == ("pkg:pypi/p@2.0", "pkg:pypi/p")
    assert [(e["dest"], e["edge_key"]) for e in edges["edges"]] == [
        ("pkg:pypi/b", "runtime||"), ("pkg:pypi/c", "runtime|m|")
    ]  # fmt: skip
    assert edges["edges"][1]["marker"] == "m" and "marker" not in edges["edges"][0]
    # Rows carry no None fields, and no attribution fields for an unattributed version.
    rows = [*plan.packages, *plan.versions, *edges["edges"]]
    assert all(value is not None for row in rows for value in row.values())
    assert all("vulnerabilities" not in v for v in plan.versions)
    assert [t["purl"] for t in plan.targets] == ["pkg:pypi/b", "pkg:pypi/c"]
    # A stored version listed again has its edges pruned; a new one has none to prune.
    relisted = PackageRecord(
        Ecosystem.PYPI,
        "p",
        [
            VersionRecord("1.0", requirements=[Requirement("b")]),
            VersionRecord("3.0", requirements=[Requirement("b")]),
        ],
    )
    again = cypher.plan_write([relisted], stored, "now")
    assert [r["purl"] for r in again.prune] == ["pkg:pypi/p@1.0"]
    assert again.targets == [{"purl": "pkg:pypi/b", "name": "b"}]  # deduplicated


def test_plan_of_a_partial_write_renumbers_stored_versions() -> None:
    record = PackageRecord(Ecosystem.PYPI, "p", [VersionRecord("1.5")], complete=False)
    stored = {"pkg:pypi/p": {"1.0": "pkg:pypi/p@1.0", "2.0": "pkg:pypi/p@2.0"}}
    plan = cypher.plan_write([record], stored, "now")
    assert plan.stale == [] and plan.stats.removed_versions == 0
    assert sorted((r["purl"], r["serial_number"]) for r in plan.renumber) == [
        ("pkg:pypi/p@1.0", 0), ("pkg:pypi/p@2.0", 2)
    ]  # fmt: skip
    assert plan.versions[0]["serial_number"] == 1


def test_edge_row_maps_aliases_back() -> None:
    row = cypher.edge_row(
        {"edge_from": "a", "edge_to": "b", "edge_key": "k", "is_optional": True, "edge_target": None,
         "constraints": "any"}
    )  # fmt: skip
    assert row == {
        "from": "a",
        "to": "b",
        "key": "k",
        "optional": True,
        "target": None,
        "constraints": "any",
    }


def test_moment_text() -> None:
    assert moment_text(None) is None
    assert moment_text("2026-01-01T00:00:00+00:00") == "2026-01-01T00:00:00+00:00"
    assert (
        moment_text(datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC)) == "2026-01-02T03:04:05+00:00"
    )
    driver_value = neo4j.time.DateTime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(0)))
    assert moment_text(driver_value) == "2026-01-02T03:04:05+00:00"


def _every_statement() -> list[tuple[str, str]]:
    """Every Cypher text the Neo4j store can send, named for the test id."""
    found = [(f"schema-{i}", text) for i, text in enumerate(cypher.schema_statements())]
    for name in dir(cypher):
        value = getattr(cypher, name)
        if name.isupper() and not name.startswith("_") and isinstance(value, str) and " " in value:
            found.append((name, value))
    # Per-ecosystem queries differ only in the label (checked above): one ecosystem is enough.
    for name in dir(cypher):
        if name.endswith("_query"):
            build = getattr(cypher, name)
            text = build(Ecosystem.NPM, True) if name == "pending_query" else build(Ecosystem.NPM)
            found.append((name, text))
    found.append(("pending_query-unlimited", cypher.pending_query(Ecosystem.PYPI, False)))
    return found


@pytest.mark.parametrize(
    ("name", "text"), _every_statement(), ids=[n for n, _ in _every_statement()]
)
def test_every_statement_is_valid_neo4j_cypher(name: str, text: str) -> None:
    """A Neo4j-dialect parser accepts it: catches keywords used as names, schema syntax (which the
    embedded engine of the contract suite cannot run) and typos, without a server."""
    dialect = pytest.importorskip("graphglot.dialect").Dialect.get_or_raise("neo4j")
    result = dialect.validate(text)
    assert result.success and not result.diagnostics, f"{name}: {result.error}"
