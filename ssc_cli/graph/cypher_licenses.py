"""Cypher of licences: :License / :LicenseException nodes keyed by spdx_id, the list version on an
SscLicenseList node, and the classification properties of packages and versions."""

from __future__ import annotations

from ssc_cli.graph.cypher import VERSION, label
from ssc_cli.graph.interface import EXTRACTED
from ssc_cli.graph.licensing import LICENSE_FIELDS
from ssc_cli.models import Ecosystem

LICENSE, EXCEPTION, LICENSE_LIST = "License", "LicenseException", "SscLicenseList"


def schema_statements() -> list[str]:
    statements = [
        f"CREATE CONSTRAINT ssc_license_id IF NOT EXISTS FOR (n:{LICENSE}) "
        "REQUIRE n.spdx_id IS UNIQUE",
        f"CREATE CONSTRAINT ssc_license_exception_id IF NOT EXISTS FOR (n:{EXCEPTION}) "
        "REQUIRE n.spdx_id IS UNIQUE",
        f"CREATE CONSTRAINT ssc_license_list_key IF NOT EXISTS FOR (n:{LICENSE_LIST}) "
        "REQUIRE n.key IS UNIQUE",
    ]
    for eco in Ecosystem:
        lab = label(eco)
        statements.append(
            f"CREATE INDEX ssc_{lab.lower()}_oss IF NOT EXISTS FOR (n:{lab}) ON (n.oss_status)"
        )
    return statements


UPSERT_LICENSES = (
    f"UNWIND $rows AS row MERGE (l:{LICENSE} {{spdx_id: row.spdx_id}}) "
    "SET l.name = row.name, l.osi_approved = row.osi_approved, l.fsf_libre = row.fsf_libre, "
    "l.deprecated = row.deprecated, l.see_also = row.see_also, l.list_version = $version"
)
UPSERT_EXCEPTIONS = (
    f"UNWIND $rows AS row MERGE (l:{EXCEPTION} {{spdx_id: row.spdx_id}}) "
    "SET l.name = row.name, l.deprecated = row.deprecated, l.see_also = row.see_also, "
    "l.list_version = $version"
)
SET_LIST = (
    f"MERGE (m:{LICENSE_LIST} {{key: 'spdx'}}) "
    "SET m.version = $version, m.release_date = $release_date, m.synced_at = $now"
)
GET_LIST = (
    f"MATCH (m:{LICENSE_LIST} {{key: 'spdx'}}) "
    "RETURN m.version AS version, m.release_date AS release_date, m.synced_at AS synced_at"
)
COUNT_LICENSES = (
    f"MATCH (l:{LICENSE}) WHERE l.list_version = $version "
    "RETURN count(l) AS n, sum(CASE WHEN l.osi_approved THEN 1 ELSE 0 END) AS osi"
)
COUNT_EXCEPTIONS = f"MATCH (l:{EXCEPTION}) WHERE l.list_version = $version RETURN count(l) AS n"
ALL_LICENSES = (
    f"MATCH (l:{LICENSE}) RETURN l.spdx_id AS spdx_id, l.name AS name, "
    "l.osi_approved AS osi_approved, l.fsf_libre AS fsf_libre, l.deprecated AS deprecated, "
    "l.see_also AS see_also"
)
ALL_EXCEPTIONS = (
    f"MATCH (l:{EXCEPTION}) RETURN l.spdx_id AS spdx_id, l.name AS name, "
    "l.deprecated AS deprecated, l.see_also AS see_also"
)

_INPUT_RETURN = (
    f"OPTIONAL MATCH (p)-[:HAVE]->(v:{VERSION}) "
    "RETURN p.purl AS purl, p.name AS name, p.licenses AS licenses, "
    "p.license_digest AS digest, p.license_list_version AS list_version, "
    "p.oss_status AS oss_status, collect({purl: v.purl, name: v.name, "
    "serial_number: v.serial_number, yanked: v.yanked, licenses: v.licenses, "
    "oss_status: v.oss_status}) AS versions"
)


def inputs_page_query(eco: Ecosystem, since: bool) -> str:
    moment = " AND p.moment >= datetime($since)" if since else ""
    return (
        f"MATCH (p:{label(eco)}) WHERE p.status = '{EXTRACTED}' AND p.purl > $after{moment} "
        f"WITH p ORDER BY p.purl LIMIT $max_rows {_INPUT_RETURN}"
    )


def inputs_of_query(eco: Ecosystem) -> str:
    return (
        f"UNWIND $purls AS purl MATCH (p:{label(eco)} {{purl: purl}}) "
        f"WHERE p.status = '{EXTRACTED}' WITH p {_INPUT_RETURN}"
    )


_SETS = ", ".join(f"n.{name} = row.{name}" for name in LICENSE_FIELDS)


def write_packages_query(eco: Ecosystem) -> str:
    return (
        f"UNWIND $rows AS row MATCH (n:{label(eco)} {{purl: row.purl}}) "
        f"SET {_SETS}, n.license_digest = row.license_digest"
    )


WRITE_VERSIONS = f"UNWIND $rows AS row MATCH (n:{VERSION} {{purl: row.purl}}) SET {_SETS}"


def status_counts_query(eco: Ecosystem) -> str:
    return (
        f"MATCH (p:{label(eco)}) WHERE p.status = '{EXTRACTED}' "
        "RETURN p.oss_status AS status, count(p) AS n"
    )
