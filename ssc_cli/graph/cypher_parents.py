"""Cypher of the queue's parent links: RequirementFile / Version parents named by elementId."""

from __future__ import annotations

from ssc_cli.graph.cypher import VERSION, label
from ssc_cli.models import Ecosystem

REQUIREMENT_FILE = "RequirementFile"

CREATE_REQUIREMENT_FILE = (
    f"CREATE (rf:{REQUIREMENT_FILE} {{name: $name, manager: $manager, moment: datetime($at)}}) "
    "RETURN elementId(rf) AS id"
)

VERSION_IDS = (
    f"UNWIND $purls AS purl MATCH (v:{VERSION} {{purl: purl}}) RETURN v.purl AS purl, "
    "elementId(v) AS id"
)

# Which ids name a parent, and of which kind; anything else is reported unknown.
PARENT_KINDS = (
    "UNWIND $ids AS id MATCH (n) WHERE elementId(n) = id "
    f"AND (n:{VERSION} OR n:{REQUIREMENT_FILE}) "
    f"OPTIONAL MATCH (owner)-[:HAVE]->(n) "
    f"RETURN id, n:{REQUIREMENT_FILE} AS is_file, owner.purl AS owner"
)

_PENDING = (
    "ON CREATE SET p.name = row.name, p.status = 'pending', p.vendor = 'n/a', "
    "p.repository_url = 'n/a', p.import_names = []"
)


def link_files_query(eco: Ecosystem) -> str:
    """depex's relate_packages edge (no key, parent_version_name null), merged not duplicated."""
    return (
        f"UNWIND $rows AS row MATCH (parent:{REQUIREMENT_FILE}) WHERE elementId(parent) = row.parent "
        f"MERGE (p:{label(eco)} {{purl: row.purl}}) {_PENDING} "
        "MERGE (parent)-[r:REQUIRE]->(p) "
        "SET r.constraints = row.constraints, r.parent_version_name = null"
    )


def link_versions_query(eco: Ecosystem) -> str:
    """A version keeps an edge it already has to the target; otherwise one is added."""
    return (
        f"UNWIND $rows AS row MATCH (parent:{VERSION}) WHERE elementId(parent) = row.parent "
        f"MERGE (p:{label(eco)} {{purl: row.purl}}) {_PENDING} "
        "WITH parent, p, row WHERE NOT EXISTS { (parent)-[:REQUIRE]->(p) } "
        "CREATE (parent)-[:REQUIRE {key: row.key, constraints: row.constraints, "
        "raw_constraints: row.constraints, parent_version_name: row.owner, kind: 'runtime', "
        "optional: false}]->(p)"
    )


PARENT_EDGES = (
    "MATCH (parent)-[r:REQUIRE]->(p) WHERE elementId(parent) = $id "
    "RETURN p.purl AS to, r.constraints AS constraints, "
    "r.parent_version_name AS parent_version_name ORDER BY to, coalesce(r.key, '')"
)
