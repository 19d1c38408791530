"""Cypher of vulnerability attribution: parameters only, one UNWIND per batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

from ssc_cli.graph.interface import VersionVulnRow
from ssc_cli.models import Ecosystem, VersionRecord

T = TypeVar("T")

VERSION = "Version"

# The SET items of upsert_versions_query: an attributed row (row.unscored not null) sets the
# vulnerability fields; otherwise a new version starts empty and a stored one keeps what it has.
# One SET with coalesce (no ON CREATE / ON MATCH reading them back) keeps the plan free of an
# Eager operator, which materialised the whole batch (issue 13).
ROW_VULNS = (
    "v.vulnerabilities = CASE WHEN row.unscored IS NULL THEN coalesce(v.vulnerabilities, []) "
    "ELSE row.vulnerabilities END, "
    "v.mean = CASE WHEN row.unscored IS NULL THEN coalesce(v.mean, 0.0) ELSE row.mean END, "
    "v.weighted_mean = CASE WHEN row.unscored IS NULL THEN coalesce(v.weighted_mean, 0.0) "
    "ELSE row.weighted_mean END, "
    "v.unscored_vulnerabilities = coalesce(row.unscored, v.unscored_vulnerabilities)"
)


def version_row(version: VersionRecord) -> dict[str, Any]:
    """The attribution fields of a write_packages version row (none unless it was attributed)."""
    if version.unscored_vulnerabilities is None:
        return {}  # ROW_VULNS reads nothing else then: the driver packs no unused fields
    return {
        "vulnerabilities": list(version.vulnerabilities or []),
        "mean": float(version.mean),
        "weighted_mean": float(version.weighted_mean),
        "unscored": version.unscored_vulnerabilities,
    }


def vuln_rows_query(label: str) -> str:
    label = _allowed(label)
    return (
        f"UNWIND $purls AS purl MATCH (p:{label} {{purl: purl}})-[:HAVE]->(v:{VERSION}) "
        "RETURN p.name AS package, v.purl AS purl, v.name AS name, "
        "v.vulnerabilities AS vulnerabilities, v.mean AS mean, "
        "v.weighted_mean AS weighted_mean, v.unscored_vulnerabilities AS unscored"
    )


WRITE_VULNS = (
    f"UNWIND $rows AS row MATCH (v:{VERSION} {{purl: row.purl}}) "
    "SET v.vulnerabilities = row.vulnerabilities, v.mean = row.mean, "
    "v.weighted_mean = row.weighted_mean, v.unscored_vulnerabilities = row.unscored"
)


def unattributed_packages_query(label: str) -> str:
    label = _allowed(label)
    return (
        f"MATCH (p:{label})-[:HAVE]->(v:{VERSION}) WHERE v.unscored_vulnerabilities IS NULL "
        "RETURN DISTINCT p.name AS name ORDER BY name"
    )


def unattributed_versions_query(label: str) -> str:
    label = _allowed(label)
    return (
        f"MATCH (p:{label})-[:HAVE]->(v:{VERSION}) WHERE v.unscored_vulnerabilities IS NULL "
        "RETURN count(v) AS n"
    )


def _allowed(text: str) -> str:
    from ssc_cli.graph.cypher import allowed_label  # cypher imports this module

    return allowed_label(text)


def label_of(ecosystem: Ecosystem) -> str:
    from ssc_cli.graph.cypher import label

    return label(ecosystem)


class _Store(Protocol):
    def _read(self, action: str, fn: Callable[[Any], T]) -> T: ...

    def _write(self, action: str, fn: Callable[[Any], T]) -> T: ...


def _data(tx: Any, query: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(record) for record in tx.run(query, params).data()]


_CHUNK = 5_000


class Neo4jVulns:
    """The attribution methods of Neo4jStore (mixed in; it provides _read and _write)."""

    def vuln_rows(
        self: _Store, ecosystem: Ecosystem, names: Sequence[str]
    ) -> dict[str, list[VersionVulnRow]]:
        purls = [ecosystem.purl(name) for name in names]
        query = vuln_rows_query(label_of(ecosystem))
        out: dict[str, list[VersionVulnRow]] = {}
        for start in range(0, len(purls), _CHUNK):
            chunk = purls[start : start + _CHUNK]
            rows = self._read("reading attributions", partial(_data, query=query, purls=chunk))
            for row in rows:
                out.setdefault(row["package"], []).append(
                    VersionVulnRow(
                        row["purl"],
                        row["name"],
                        tuple(row["vulnerabilities"] or ()),
                        float(row["mean"] or 0.0),
                        float(row["weighted_mean"] or 0.0),
                        row["unscored"],
                    )
                )
        return out

    def write_vulns(self: _Store, rows: Sequence[VersionVulnRow]) -> int:
        if not rows:
            return 0
        params = [
            {
                "purl": r.purl,
                "vulnerabilities": list(r.vulnerabilities),
                "mean": r.mean,
                "weighted_mean": r.weighted_mean,
                "unscored": r.unscored,
            }
            for r in rows
        ]
        self._write(
            "writing attributions", lambda tx: tx.run(WRITE_VULNS, {"rows": params}).consume()
        )
        return len(rows)

    def unattributed_packages(self: _Store, ecosystem: Ecosystem) -> list[str]:
        query = unattributed_packages_query(label_of(ecosystem))
        rows = self._read("reading unattributed packages", lambda tx: _data(tx, query))
        return [row["name"] for row in rows]

    def unattributed_versions(self: _Store, ecosystem: Ecosystem) -> int:
        query = unattributed_versions_query(label_of(ecosystem))
        rows = self._read("counting unattributed versions", lambda tx: _data(tx, query))
        return int(rows[0]["n"]) if rows else 0
