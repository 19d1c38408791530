"""Cypher of `ssc graph migrate`: turn a graph the old SecureChain pipeline wrote into the contract.

Plain Cypher 5 only (no APOC): a relationship cannot be re-pointed without APOC, so moving an
edge is CREATE a copy with SET r2 = properties(r), then DELETE r.
"""

from __future__ import annotations

from ssc_cli.graph.cypher import VERSION, allowed_label, label
from ssc_cli.graph.interface import EXTRACTED, PENDING
from ssc_cli.models import Ecosystem

META = "SscMeta"
SCHEMA_VERSION = 1

READ_MARKER = f"MATCH (m:{META} {{key: 'schema'}}) RETURN m.version AS version"
WRITE_MARKER = (
    f"MERGE (m:{META} {{key: 'schema'}}) SET m.version = $version, "
    "m.migrated_at = coalesce(m.migrated_at, $now), m.checked_at = $now"
)


def old_shape_query(lab: str) -> str:
    """One node of the label without a purl: the old pipeline's data (it never wrote purl)."""
    return f"MATCH (n:{allowed_label(lab)}) WHERE n.purl IS NULL RETURN 1 AS found LIMIT 1"


def old_shape_labels() -> list[str]:
    return [label(eco) for eco in Ecosystem] + [VERSION]


# -- packages -------------------------------------------------------------------------------


def unkeyed_packages_query(eco: Ecosystem) -> str:
    return (
        f"MATCH (p:{label(eco)}) WHERE p.purl IS NULL AND NOT elementId(p) IN $skip "
        "RETURN elementId(p) AS id, p.name AS name LIMIT $max_rows"
    )


def all_unkeyed_packages_query(eco: Ecosystem) -> str:
    return f"MATCH (p:{label(eco)}) WHERE p.purl IS NULL RETURN elementId(p) AS id, p.name AS name"


def keyed_packages_query(eco: Ecosystem) -> str:
    return (
        f"UNWIND $purls AS purl MATCH (p:{label(eco)} {{purl: purl}}) "
        "RETURN purl, elementId(p) AS id"
    )


# Twin package -> keeper: versions (HAVE) and incoming REQUIRE edges move; properties the keeper
# lacks (or has as 'n/a') are taken from the twin; then the twin goes.
MOVE_PACKAGE_EDGES = (
    "UNWIND $pairs AS pair MATCH (t) WHERE elementId(t) = pair.twin "
    "MATCH (k) WHERE elementId(k) = pair.keeper "
    "CALL { WITH t, k MATCH (t)-[r:HAVE]->(v) CREATE (k)-[:HAVE]->(v) DELETE r "
    "RETURN count(*) AS have } "
    "CALL { WITH t, k MATCH (s)-[r:REQUIRE]->(t) CREATE (s)-[r2:REQUIRE]->(k) "
    "SET r2 = properties(r) DELETE r RETURN count(*) AS required } "
    "SET k.vendor = CASE WHEN coalesce(k.vendor, 'n/a') = 'n/a' THEN t.vendor ELSE k.vendor END, "
    "k.repository_url = CASE WHEN coalesce(k.repository_url, 'n/a') = 'n/a' "
    "THEN t.repository_url ELSE k.repository_url END, "
    "k.import_names = CASE WHEN size(coalesce(k.import_names, [])) = 0 "
    "THEN t.import_names ELSE k.import_names END, "
    "k.group_id = coalesce(k.group_id, t.group_id), "
    "k.artifact_id = coalesce(k.artifact_id, t.artifact_id), "
    "k.moment = coalesce(k.moment, t.moment) "
    "DETACH DELETE t "
    "RETURN sum(have + required) AS moved"
)

KEY_PACKAGES = (
    "UNWIND $rows AS row MATCH (p) WHERE elementId(p) = row.id "
    "SET p.purl = row.purl, p.name = row.name, "
    f"p.status = coalesce(p.status, CASE WHEN EXISTS {{ (p)-[:HAVE]->() }} THEN '{EXTRACTED}' "
    f"ELSE '{PENDING}' END), "
    "p.vendor = coalesce(p.vendor, 'n/a'), p.repository_url = coalesce(p.repository_url, 'n/a'), "
    "p.import_names = coalesce(p.import_names, [])"
)


# -- versions and edges ---------------------------------------------------------------------


def package_page_query(eco: Ecosystem) -> str:
    return (
        f"MATCH (p:{label(eco)}) WHERE p.purl > $after "
        "RETURN p.purl AS purl ORDER BY p.purl LIMIT $max_rows"
    )


def versions_of_query(eco: Ecosystem) -> str:
    return (
        f"UNWIND $purls AS purl MATCH (p:{label(eco)} {{purl: purl}})-[:HAVE]->(v:{VERSION}) "
        "RETURN purl, p.name AS package, elementId(v) AS id, v.name AS name, v.purl AS vpurl"
    )


def all_versions_query(eco: Ecosystem) -> str:
    """Dry run: every version of the ecosystem with its package's purl (or name when unkeyed)."""
    return (
        f"MATCH (p:{label(eco)})-[:HAVE]->(v:{VERSION}) "
        "RETURN p.purl AS purl, p.name AS package, v.name AS name, v.purl AS vpurl"
    )


MOVE_VERSION_EDGES = (
    "UNWIND $pairs AS pair MATCH (t) WHERE elementId(t) = pair.twin "
    "MATCH (k) WHERE elementId(k) = pair.keeper "
    "CALL { WITH t, k MATCH (t)-[r:REQUIRE]->(d) CREATE (k)-[r2:REQUIRE]->(d) "
    "SET r2 = properties(r) DELETE r RETURN count(*) AS moved } "
    "SET k.vulnerabilities = coalesce(k.vulnerabilities, []) + "
    "[x IN coalesce(t.vulnerabilities, []) WHERE NOT x IN coalesce(k.vulnerabilities, [])], "
    "k.release_date = coalesce(k.release_date, t.release_date), "
    "k.serial_number = coalesce(k.serial_number, t.serial_number), "
    "k.mean = coalesce(k.mean, t.mean), k.weighted_mean = coalesce(k.weighted_mean, t.weighted_mean) "
    "DETACH DELETE t "
    "RETURN sum(moved) AS moved"
)

KEY_VERSIONS = (
    "UNWIND $rows AS row MATCH (v) WHERE elementId(v) = row.id "
    "SET v.purl = row.purl, v.vulnerabilities = coalesce(v.vulnerabilities, []), "
    "v.mean = coalesce(v.mean, 0.0), v.weighted_mean = coalesce(v.weighted_mean, 0.0)"
)

# REQUIRE twins: same ends and the same key (ssc's edges) or, for the old pipeline's key-less
# edges, the same constraints and parent_version_name. One of each group stays.
_DEDUPE_TAIL = (
    "WITH s, t, r.`key` AS k, "
    "CASE WHEN r.`key` IS NULL THEN [r.constraints, r.parent_version_name] END AS sig, "
    "collect(r) AS rs WHERE size(rs) > 1 "
    "UNWIND tail(rs) AS extra DELETE extra RETURN count(extra) AS removed"
)
DEDUPE_VERSION_EDGES = (
    f"UNWIND $purls AS vp MATCH (s:{VERSION} {{purl: vp}})-[r:REQUIRE]->(t) " + _DEDUPE_TAIL
)


def dedupe_parent_edges_query(eco: Ecosystem) -> str:
    """Edges into the packages from parents that are not versions (depex's RequirementFile)."""
    return (
        f"UNWIND $purls AS purl MATCH (s)-[r:REQUIRE]->(t:{label(eco)} {{purl: purl}}) "
        f"WHERE NOT s:{VERSION} " + _DEDUPE_TAIL
    )


# Dry run: edge twins as they are now (edges that only become twins once their ends merge are not
# counted).
COUNT_EDGE_TWINS = (
    "MATCH (s)-[r:REQUIRE]->(t) WITH s, t, r.`key` AS k, "
    "CASE WHEN r.`key` IS NULL THEN [r.constraints, r.parent_version_name] END AS sig, "
    "count(r) AS c WHERE c > 1 RETURN sum(c - 1) AS n"
)
