"""Cypher text and parameter rows of the Neo4j store: pure functions, no driver needed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssc_cli.graph import cypher_lease, cypher_vulns
from ssc_cli.graph.interface import EXTRACTED, WriteStats, dumps, version_serials
from ssc_cli.graph.licensing import LICENSE_FIELDS
from ssc_cli.models import Ecosystem, PackageRecord

VERSION = "Version"
CURSOR, RUN, FAILURE, COUNTER = "SscCursor", "SscRun", "SscFailure", "SscCounter"
CHECK = "SscCheck"
_LABEL_RE = re.compile(r"[A-Z][A-Za-z]*")
_ALLOWED_LABELS = frozenset(
    [e.label for e in Ecosystem] + [VERSION, CURSOR, RUN, FAILURE, COUNTER, CHECK]
)


def label(ecosystem: Ecosystem) -> str:
    """The package label of an ecosystem; labels cannot be query parameters, so only the enum names one."""
    text = Ecosystem(ecosystem).label
    if not _LABEL_RE.fullmatch(text):  # defence in depth: this string goes into query text
        raise ValueError(f"refusing label {text!r}")
    return text


def allowed_label(text: str) -> str:
    """A label handed over as text, refused unless it is one of ssc's own (it goes into the query)."""
    if text not in _ALLOWED_LABELS:
        raise ValueError(f"refusing label {text!r}: not one of ssc's graph labels")
    return text


def purl_prefix(ecosystem: Ecosystem) -> str:
    """Every package and version purl of the ecosystem starts with this."""
    return f"pkg:{ecosystem.purl_type}/"


def export_order(ecosystems: Iterable[Ecosystem]) -> list[Ecosystem]:
    """Ecosystems in the order of their purls, so per-ecosystem pages concatenate into purl order."""
    return sorted(ecosystems, key=purl_prefix)


# -- schema ---------------------------------------------------------------------------------


def schema_statements() -> list[str]:
    """Uniqueness on purl and name/status indexes per label, plus the bookkeeping nodes."""
    statements = []
    for eco in Ecosystem:
        lab = label(eco)
        low = lab.lower()
        statements += [
            f"CREATE CONSTRAINT ssc_{low}_purl IF NOT EXISTS FOR (n:{lab}) REQUIRE n.purl IS UNIQUE",
            f"CREATE INDEX ssc_{low}_name IF NOT EXISTS FOR (n:{lab}) ON (n.name)",
            f"CREATE INDEX ssc_{low}_status IF NOT EXISTS FOR (n:{lab}) ON (n.status)",
        ]
    statements += [
        f"CREATE CONSTRAINT ssc_version_purl IF NOT EXISTS FOR (n:{VERSION}) REQUIRE n.purl IS UNIQUE",
        f"CREATE INDEX ssc_version_name IF NOT EXISTS FOR (n:{VERSION}) ON (n.name)",
        f"CREATE CONSTRAINT ssc_cursor_key IF NOT EXISTS FOR (n:{CURSOR}) "
        "REQUIRE (n.ecosystem, n.key) IS UNIQUE",
        f"CREATE CONSTRAINT ssc_run_id IF NOT EXISTS FOR (n:{RUN}) REQUIRE n.id IS UNIQUE",
        f"CREATE CONSTRAINT ssc_counter_name IF NOT EXISTS FOR (n:{COUNTER}) REQUIRE n.name IS UNIQUE",
        f"CREATE INDEX ssc_failure_run IF NOT EXISTS FOR (n:{FAILURE}) ON (n.run_id)",
        # Quality checks (cypher_quality.py): latest result per check, runs by job.
        f"CREATE CONSTRAINT ssc_check_key IF NOT EXISTS FOR (n:{CHECK}) "
        "REQUIRE (n.dataset, n.name) IS UNIQUE",
        f"CREATE INDEX ssc_run_job IF NOT EXISTS FOR (n:{RUN}) ON (n.job)",
        cypher_lease.SCHEMA,  # one lease node per job (ssc_cli/lock.py)
    ]
    return statements


# -- writes ---------------------------------------------------------------------------------

# Properties of a package node created before it is extracted (an edge target, a mark, a failure);
# the same defaults as the SQLite columns.
_PENDING_DEFAULTS = (
    "p.name = row.name, p.status = 'pending', p.vendor = 'n/a', p.repository_url = 'n/a', "
    "p.import_names = []"
)


def stored_versions_query(eco: Ecosystem) -> str:
    return (
        f"UNWIND $purls AS purl MATCH (p:{label(eco)} {{purl: purl}})-[:HAVE]->(v:{VERSION}) "
        "RETURN purl, v.name AS name, v.purl AS vpurl"
    )


def upsert_packages_query(eco: Ecosystem) -> str:
    return (
        f"UNWIND $rows AS row MERGE (p:{label(eco)} {{purl: row.purl}}) "
        "SET p.name = row.name, p.status = row.status, p.vendor = row.vendor, "
        "p.repository_url = row.repository_url, "
        "p.import_names = coalesce(row.import_names, p.import_names, []), "
        "p.moment = datetime(row.moment), p.token = row.token, p.group_id = row.group_id, "
        "p.artifact_id = row.artifact_id, p.licenses = row.licenses, p.extra = row.extra, "
        "p.last_error = null"
    )


DELETE_VERSIONS = f"UNWIND $purls AS purl MATCH (v:{VERSION} {{purl: purl}}) DETACH DELETE v"


def upsert_versions_query(eco: Ecosystem) -> str:
    # Vulnerabilities and scores come with the row when it was attributed (see ROW_VULNS).
    return (
        f"UNWIND $rows AS row MATCH (p:{label(eco)} {{purl: row.package}}) "
        f"MERGE (v:{VERSION} {{purl: row.purl}}) "
        f"SET {cypher_vulns.ROW_VULNS}, "
        "v.name = row.name, v.serial_number = row.serial_number, "
        "v.release_date = row.release_date, v.yanked = row.yanked, v.deprecated = row.deprecated, "
        "v.licenses = CASE WHEN row.keep_licenses THEN v.licenses ELSE row.licenses END, "
        "v.platforms = row.platforms, v.extra = row.extra "
        "MERGE (p)-[:HAVE]->(v)"
    )


RENUMBER_VERSIONS = (
    f"UNWIND $rows AS row MATCH (v:{VERSION} {{purl: row.purl}}) "
    "SET v.serial_number = row.serial_number"
)


def create_targets_query(eco: Ecosystem) -> str:
    return (
        f"UNWIND $rows AS row MERGE (p:{label(eco)} {{purl: row.purl}}) "
        f"ON CREATE SET {_PENDING_DEFAULTS}"
    )


# Edges of a re-listed version that are not in its new list go; edges written by older tools
# without a key never match a kept pair, so they go too.
PRUNE_EDGES = (
    f"UNWIND $rows AS row MATCH (v:{VERSION} {{purl: row.purl}})-[r:REQUIRE]->(t) "
    "WHERE NOT ([coalesce(t.purl, ''), coalesce(r.`key`, '')] IN row.keep) DELETE r"
)


def merge_edges_query(eco: Ecosystem) -> str:
    # One row per version with its list of edges: the version is looked up once, and its purl
    # and its package's are sent once, not once per edge (issue 13).
    return (
        f"UNWIND $rows AS row MATCH (v:{VERSION} {{purl: row.purl}}) "
        f"UNWIND row.edges AS e MATCH (t:{label(eco)} {{purl: e.dest}}) "
        "MERGE (v)-[r:REQUIRE {`key`: e.edge_key}]->(t) "
        "SET r.constraints = e.constraints, r.raw_constraints = e.raw_constraints, "
        "r.marker = e.marker, r.parent_version_name = row.package, "
        "r.kind = e.kind, r.`optional` = e.is_optional, r.target = e.target, r.extra = e.extra"
    )


def mark_query(eco: Ecosystem) -> str:
    # pending never downgrades an extracted package; missing (gone from the registry) always wins.
    return (
        f"UNWIND $rows AS row MERGE (p:{label(eco)} {{purl: row.purl}}) "
        f"ON CREATE SET {_PENDING_DEFAULTS} "
        "WITH p, row, p.status AS old "
        f"WHERE old IS NULL OR old <> '{EXTRACTED}' OR row.status = 'missing' "
        "SET p.status = row.status, p.last_error = row.reason"
    )


def failed_packages_query(eco: Ecosystem) -> str:
    return (
        f"UNWIND $rows AS row MERGE (p:{label(eco)} {{purl: row.purl}}) "
        f"ON CREATE SET {_PENDING_DEFAULTS} SET p.last_error = row.reason"
    )


CREATE_FAILURES = (
    f"UNWIND $rows AS row CREATE (:{FAILURE} {{run_id: row.run_id, ecosystem: row.ecosystem, "
    "name: row.name, reason: row.reason, failed_at: row.failed_at})"
)
SET_CURSOR = (
    f"MERGE (c:{CURSOR} {{ecosystem: $ecosystem, key: $cursor_key}}) "
    "SET c.value = $value, c.updated_at = $now"
)
GET_CURSOR = (
    f"MATCH (c:{CURSOR} {{ecosystem: $ecosystem, key: $cursor_key}}) RETURN c.value AS value"
)
# The right-hand side reads c.value, so Cypher write-locks the counter before reading it:
# concurrent runs get distinct ids.
START_RUN = (
    f"MERGE (c:{COUNTER} {{name: 'run'}}) ON CREATE SET c.value = 0 "
    "SET c.value = c.value + 1 "
    f"CREATE (r:{RUN} {{id: c.value, job: $job, ecosystem: $ecosystem, started_at: $now, "
    "status: 'running'}) RETURN r.id AS id"
)
FINISH_RUN = f"MATCH (r:{RUN} {{id: $run_id}}) SET r.finished_at = $now, r.status = $status, r.summary = $summary"
GET_FAILURES = (
    f"MATCH (f:{FAILURE} {{run_id: $run_id}}) RETURN f.ecosystem AS ecosystem, f.name AS name, "
    "f.reason AS reason ORDER BY ecosystem, name"
)

# -- reads ----------------------------------------------------------------------------------

_LICENSE_FIELDS = ", ".join(f"{{n}}.{name} AS {name}" for name in LICENSE_FIELDS)
_PACKAGE_FIELDS = (
    "p.purl AS purl, p.name AS name, p.status AS status, p.vendor AS vendor, "
    "p.repository_url AS repository_url, p.import_names AS import_names, "
    "p.group_id AS group_id, p.artifact_id AS artifact_id, " + _LICENSE_FIELDS.format(n="p")
)
_VERSION_FIELDS = (
    "v.purl AS purl, p.purl AS package, v.name AS name, v.serial_number AS serial_number, "
    "v.release_date AS release_date, v.yanked AS yanked, v.deprecated AS deprecated, "
    "v.vulnerabilities AS vulnerabilities, v.mean AS mean, v.weighted_mean AS weighted_mean, "
    "v.platforms AS platforms, v.unscored_vulnerabilities AS unscored_vulnerabilities, "
    + _LICENSE_FIELDS.format(n="v")
)
# Names that are Cypher keywords (KEY, OPTIONAL, FROM, TO) are backticked as properties and never
# used as aliases or row fields; edge_row() maps the aliases back to the export names.
_EDGE_FIELDS = (
    "v.purl AS edge_from, t.purl AS edge_to, r.`key` AS edge_key, r.constraints AS constraints, "
    "r.raw_constraints AS raw_constraints, r.marker AS marker, "
    "r.parent_version_name AS parent_version_name, r.kind AS kind, r.`optional` AS is_optional, "
    "r.target AS edge_target"
)


def edge_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """An edge record under the field names of requires_export."""
    data = dict(row)
    for alias, name in (
        ("edge_from", "from"),
        ("edge_to", "to"),
        ("edge_key", "key"),
        ("is_optional", "optional"),
        ("edge_target", "target"),
    ):
        data[name] = data.pop(alias)
    return data


def statuses_query(eco: Ecosystem) -> str:
    return (
        f"UNWIND $purls AS purl MATCH (p:{label(eco)} {{purl: purl}}) "
        "RETURN p.name AS name, p.status AS status"
    )


def known_query(eco: Ecosystem) -> str:
    return (
        f"UNWIND $purls AS purl MATCH (p:{label(eco)} {{purl: purl}}) "
        f"OPTIONAL MATCH (p)-[:HAVE]->(v:{VERSION}) "
        "RETURN p.name AS name, p.status AS status, p.token AS token, collect(v.name) AS versions"
    )


def tokens_page_query(eco: Ecosystem) -> str:
    # Keyset pages on the name index: stable while other writers add packages.
    return (
        f"MATCH (p:{label(eco)}) WHERE p.status = '{EXTRACTED}' AND p.name > $after "
        "RETURN p.name AS name, p.token AS token ORDER BY name LIMIT $max_rows"
    )


def pending_query(eco: Ecosystem, limited: bool) -> str:
    text = f"MATCH (p:{label(eco)}) WHERE p.status = 'pending' RETURN p.name AS name ORDER BY name"
    return text + " LIMIT $max_rows" if limited else text


def retry_query(eco: Ecosystem) -> str:
    return (
        f"MATCH (p:{label(eco)}) WHERE p.status = '{EXTRACTED}' AND p.last_error IS NOT NULL "
        "RETURN p.name AS name ORDER BY name"
    )


def count_query(eco: Ecosystem) -> str:
    return f"MATCH (p:{label(eco)}) WHERE p.status = $status RETURN count(p) AS n"


def packages_page_query(eco: Ecosystem) -> str:
    return (
        f"MATCH (p:{label(eco)}) WHERE p.purl > $after "
        f"RETURN {_PACKAGE_FIELDS} ORDER BY purl LIMIT $max_rows"
    )


def versions_page_query(eco: Ecosystem) -> str:
    # Page on the Version purl index; a version of no package of this label still moves the page.
    return (
        f"MATCH (v:{VERSION}) WHERE v.purl > $after AND v.purl STARTS WITH $prefix "
        "WITH v ORDER BY v.purl LIMIT $max_rows "
        f"OPTIONAL MATCH (p:{label(eco)})-[:HAVE]->(v) RETURN {_VERSION_FIELDS}"
    )


EDGES_OF_VERSIONS = (
    f"UNWIND $purls AS purl MATCH (v:{VERSION} {{purl: purl}})-[r:REQUIRE]->(t) "
    f"RETURN {_EDGE_FIELDS}"
)


def show_package_query(eco: Ecosystem) -> str:
    return (
        f"MATCH (p:{label(eco)} {{purl: $purl}}) "
        f"RETURN {_PACKAGE_FIELDS}, p.moment AS moment, p.last_error AS last_error"
    )


def show_versions_query(eco: Ecosystem) -> str:
    return f"MATCH (p:{label(eco)} {{purl: $purl}})-[:HAVE]->(v:{VERSION}) RETURN {_VERSION_FIELDS}"


# -- the plan of one write ------------------------------------------------------------------


@dataclass(slots=True)
class WritePlan:
    """Parameter rows of every statement of one ecosystem's part of a write_packages batch.

    Rows leave out their null fields: Cypher reads a missing key as null, so the statements do
    the same, and the driver (pure Python unless neo4j-rust-ext is installed) spends most of a
    write packing each key of each row (issue 13). `edges` holds one row per version:
    its purl, its package's purl and the list of its edges.
    """

    packages: list[dict[str, Any]] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    renumber: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    prune: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)
    stats: WriteStats = field(default_factory=WriteStats)


def _present(row: dict[str, Any]) -> dict[str, Any]:
    """The row without its None fields (they read as null in Cypher all the same)."""
    return {key: value for key, value in row.items() if value is not None}


def plan_write(
    records: Sequence[PackageRecord], stored: Mapping[str, Mapping[str, str]], moment: str
) -> WritePlan:
    """What to write for records of one ecosystem, given the stored versions (purl -> name -> vpurl)."""
    plan = WritePlan()
    targets: dict[str, dict[str, Any]] = {}
    for record in records:
        purl = record.purl
        have = stored.get(purl, {})
        serials = version_serials(record, have)
        plan.packages.append(
            _present(
                {
                    "purl": purl,
                    "name": record.name,
                    "status": EXTRACTED,
                    "vendor": record.vendor,
                    "repository_url": record.repository_url,
                    "import_names": (
                        None if record.import_names is None else sorted(set(record.import_names))
                    ),
                    "moment": moment,
                    "token": record.token,
                    "group_id": record.extra.get("group_id"),
                    "artifact_id": record.extra.get("artifact_id"),
                    "licenses": dumps(record.licenses) if record.licenses else None,
                    "extra": dumps(record.extra) if record.extra else None,
                }
            )
        )
        names = {v.name for v in record.versions}
        if record.complete:
            gone = [vpurl for vname, vpurl in have.items() if vname not in names]
            plan.stale.extend(gone)
            plan.stats.removed_versions += len(gone)
        else:
            # Versions outside this partial list keep their nodes; only renumber them.
            plan.renumber.extend(
                {"purl": vpurl, "serial_number": serials.get(vname, -1)}
                for vname, vpurl in have.items()
                if vname not in names
            )
        for version in record.versions:
            vpurl = record.ecosystem.purl(record.name, version.name)
            if version.name not in have:
                plan.stats.new_versions += 1
            plan.versions.append(
                _present(
                    {
                        "purl": vpurl,
                        "package": purl,
                        "name": version.name,
                        "serial_number": serials.get(version.name, -1),
                        "release_date": version.release_date,
                        "yanked": bool(version.yanked),
                        "deprecated": version.deprecated,
                        "licenses": dumps(version.licenses) if version.licenses else None,
                        # The version's own metadata was not read this time: stored licences stay.
                        "keep_licenses": version.requirements is None and not version.licenses,
                        # A native list, so readers can match on it (RubyGems' builds of one number).
                        "platforms": version.extra.get("platforms"),
                        "extra": dumps(version.extra) if version.extra else None,
                        **cypher_vulns.version_row(version),
                    }
                )
            )
            if version.requirements is None:
                continue  # dependencies not fetched this time: stored edges stay
            keep = []
            edges: list[dict[str, Any]] = []
            for req in version.requirements:
                target = record.ecosystem.purl(req.name)
                keep.append([target, req.key])
                targets.setdefault(target, {"purl": target, "name": req.name})
                edges.append(
                    _present(
                        {
                            "dest": target,
                            "edge_key": req.key,
                            "constraints": req.constraints,
                            "raw_constraints": req.raw_constraints,
                            "marker": req.marker,
                            "kind": req.kind,
                            "is_optional": bool(req.optional),
                            "target": req.target,
                            "extra": dumps(req.extra) if req.extra else None,
                        }
                    )
                )
            if edges:
                plan.edges.append({"purl": vpurl, "package": purl, "edges": edges})
            if version.name in have:  # a new version has no edges to prune
                plan.prune.append({"purl": vpurl, "keep": keep})
        plan.stats.packages += 1
    plan.targets = list(targets.values())
    return plan
