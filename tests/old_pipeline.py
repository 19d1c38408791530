"""The old SecureChain pipeline's Cypher, verbatim (securechain-compat.md §1.5), to replay it.

Every statement runs as an auto-commit `session.run` in a fresh session, as the old code did;
the f-string label is the old code's too (node_type comes from its own allow-list).
"""

from __future__ import annotations

from typing import Any

import neo4j


def create_package_and_versions(
    driver: neo4j.Driver,
    node_type: str,
    package: dict[str, Any],
    versions: list[dict[str, Any]],
    *,
    parent_id: str | None = None,
    constraints: str | None = None,
    parent_version_name: str | None = None,
    database: str | None = None,
) -> list[dict[str, Any]]:
    """package_service.create_package_and_versions (:22-54)."""
    key = (
        "{group_id:$group_id, artifact_id:$artifact_id, name:$name}"
        if node_type == "MavenPackage"
        else "{name:$name}"
    )
    query = ""
    if parent_id:
        query += "MATCH (parent:RequirementFile|Version)\nWHERE elementid(parent) = $parent_id\n"
    query += f"""MERGE(p:{node_type}{key})
ON CREATE SET p.vendor = $vendor, p.moment = $moment, p.repository_url = $repository_url, p.import_names = $import_names
ON MATCH SET p.moment = $moment
"""
    if parent_id:
        rel = "{constraints:$constraints" + (
            ", parent_version_name:$parent_version_name}" if parent_version_name else "}"
        )
        query += f"CREATE (parent)-[rel_p:REQUIRE{rel}]->(p)\n"
    query += """WITH p AS package
UNWIND $versions AS version
CREATE(v:Version{
    name: version.name, serial_number: version.serial_number, mean: version.mean,
    weighted_mean: version.weighted_mean, vulnerabilities: version.vulnerabilities, release_date: version.release_date
})
CREATE (package)-[:HAVE]->(v)
RETURN collect({name: v.name, id: elementid(v)}) AS versions
"""
    params = {
        **package,
        "constraints": constraints,
        "parent_id": parent_id,
        "parent_version_name": parent_version_name,
        "versions": versions,
    }
    with driver.session(database=database) as session:
        record = session.run(query, params).single()
    return list(record["versions"]) if record else []


def create_versions(
    driver: neo4j.Driver,
    node_type: str,
    package_name: str,
    versions: list[dict[str, Any]],
    database: str | None = None,
) -> list[dict[str, Any]]:
    """version_service.create_versions (:17-31)."""
    query = f"""MATCH(p:{node_type}{{name:$package_name}})
WITH p AS package
UNWIND $versions AS version
CREATE(v:Version{{name: version.name, serial_number: version.serial_number, mean: version.mean, weighted_mean: version.weighted_mean, vulnerabilities: version.vulnerabilities, release_date: version.release_date}})
CREATE (package)-[:HAVE]->(v)
RETURN collect({{name: v.name, id: elementid(v)}}) AS versions
"""
    with driver.session(database=database) as session:
        record = session.run(query, {"package_name": package_name, "versions": versions}).single()
    return list(record["versions"]) if record else []


def read_package_by_name(
    driver: neo4j.Driver, node_type: str, name: str, database: str | None = None
) -> dict[str, Any] | None:
    """package_service.read_package_by_name (:67-79)."""
    query = (
        f"MATCH(p:{node_type}{{name:$package_name}}) RETURN p{{id: elementid(p), .*}} AS package"
    )
    with driver.session(database=database) as session:
        record = session.run(query, {"package_name": name}).single()
    return dict(record["package"]) if record else None


def relate_packages(
    driver: neo4j.Driver,
    node_type: str,
    packages: list[dict[str, Any]],
    database: str | None = None,
) -> None:
    """package_service.relate_packages (:102-113): rows {parent_id, id, constraints, parent_version_name}."""
    query = f"""UNWIND $packages AS package
MATCH (parent:RequirementFile|Version) WHERE elementid(parent) = package.parent_id
MATCH (p:{node_type}) WHERE elementid(p) = package.id
CREATE (parent)-[:REQUIRE{{constraints: package.constraints, parent_version_name: package.parent_version_name}}]->(p)
"""
    with driver.session(database=database) as session:
        session.run(query, {"packages": packages}).consume()


def update_package_moment(
    driver: neo4j.Driver, node_type: str, name: str, moment: Any, database: str | None = None
) -> None:
    """package_service.update_package_moment (:115-122)."""
    query = f"MATCH(p:{node_type}{{name:$package_name}}) SET p.moment = $moment"
    with driver.session(database=database) as session:
        session.run(query, {"package_name": name, "moment": moment}).consume()
