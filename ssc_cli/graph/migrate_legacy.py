"""`ssc graph migrate` on Neo4j: key, merge and mark a graph the old SecureChain pipeline wrote."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from ssc_cli.errors import ConfigError
from ssc_cli.graph import cypher_migrate as cm
from ssc_cli.graph.cypher_quality import ManagedTransaction
from ssc_cli.graph.interface import now_iso
from ssc_cli.models import Ecosystem

if TYPE_CHECKING:
    from ssc_cli.graph.neo4j import Neo4jStore

BATCH = 1_000  # packages per write transaction: bounded memory on the server


class GraphNeedsMigration(ConfigError):
    """The graph holds the old pipeline's data (nodes without purl) and has no ssc marker."""


@dataclass
class MigrationReport:
    """What `ssc graph migrate` found (dry run) or did."""

    dry_run: bool = False
    schema_version: int = cm.SCHEMA_VERSION
    packages_keyed: int = 0
    package_twins_merged: int = 0
    names_normalised: int = 0
    versions_keyed: int = 0
    version_twins_merged: int = 0
    edges_moved: int = 0
    duplicate_edges_removed: int = 0
    unkeyable_packages: int = 0
    unkeyable_versions: int = 0
    marker_written: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def changed(self) -> bool:
        counts = asdict(self)
        return any(
            counts[k] for k in counts if k not in ("dry_run", "schema_version", "marker_written")
        )


def _rows(tx: ManagedTransaction, query: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(record) for record in tx.run(query, params).data()]


def _one(tx: ManagedTransaction, query: str, key: str, **params: Any) -> int:
    rows = _rows(tx, query, **params)
    return int(rows[0][key] or 0) if rows else 0


def _package_key(eco: Ecosystem, name: Any) -> tuple[str, str] | None:
    """(graph name, purl) of an old package name, or None when it cannot be keyed."""
    if not isinstance(name, str) or not name.strip():
        return None
    try:
        canonical = eco.normalize_name(name)
        return canonical, eco.purl(canonical)
    except ValueError:
        return None


def _version_purl(eco: Ecosystem, package: str, name: Any) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return None
    try:
        return eco.purl(package, name)
    except ValueError:
        return None


# -- the marker and the refusal ---------------------------------------------------------------


def has_marker(store: Neo4jStore) -> bool:
    return bool(store._read("reading the schema marker", partial(_rows, query=cm.READ_MARKER)))


def old_data_present(store: Neo4jStore) -> bool:
    for lab in cm.old_shape_labels():
        if store._read("looking for old data", partial(_rows, query=cm.old_shape_query(lab))):
            return True
    return False


def refuse_unmigrated(store: Neo4jStore) -> bool:
    """Exit 2 on a graph the old pipeline wrote (writing beside it would create a twin of every
    node); True when the graph already carries the marker."""
    if has_marker(store):
        return True
    if not old_data_present(store):
        return False
    raise GraphNeedsMigration(
        f"the graph at {store.uri} holds package or version nodes without a purl (written by the "
        "old SecureChain pipeline) and has not been migrated; run `ssc graph migrate` "
        "(`--dry-run` first to see what it would change)"
    )


def write_marker(store: Neo4jStore) -> None:
    params = {"version": cm.SCHEMA_VERSION, "now": now_iso()}
    store._write("writing the schema marker", lambda tx: tx.run(cm.WRITE_MARKER, params).consume())


# -- the migration ----------------------------------------------------------------------------


def migrate_graph(store: Neo4jStore, *, dry_run: bool = False) -> MigrationReport:
    """Key every package and version, merge twins, dedupe edges, add the schema, write the marker."""
    report = MigrationReport(dry_run=dry_run)
    if dry_run:
        for eco in Ecosystem:
            _count_ecosystem(store, eco, report)
        report.duplicate_edges_removed = store._read(
            "counting duplicate edges", partial(_one, query=cm.COUNT_EDGE_TWINS, key="n")
        )
        return report
    # Constraints first: uniqueness ignores nodes without purl, and every batch below keeps it.
    store._create_schema()
    for eco in Ecosystem:
        _key_packages(store, eco, report)
        _key_versions(store, eco, report)
    write_marker(store)
    report.marker_written = True
    return report


def _key_packages(store: Neo4jStore, eco: Ecosystem, report: MigrationReport) -> None:
    skip: list[str] = []
    while True:
        rows = store._read(
            "reading unkeyed packages",
            partial(_rows, query=cm.unkeyed_packages_query(eco), skip=skip, max_rows=BATCH),
        )
        if not rows:
            return
        planned: list[tuple[str, str, str, Any]] = []  # id, canonical name, purl, old name
        for row in rows:
            key = _package_key(eco, row["name"])
            if key is None:
                skip.append(row["id"])
                report.unkeyable_packages += 1
            else:
                planned.append((row["id"], key[0], key[1], row["name"]))
        if planned:
            store._write(
                "migrating packages",
                partial(_package_batch, eco=eco, planned=planned, report=report),
            )


def _package_batch(
    tx: ManagedTransaction,
    eco: Ecosystem,
    planned: list[tuple[str, str, str, Any]],
    report: MigrationReport,
) -> None:
    purls = sorted({p[2] for p in planned})
    keepers = {r["purl"]: r["id"] for r in _rows(tx, cm.keyed_packages_query(eco), purls=purls)}
    # Prefer the node already spelled the graph's way, so fewer names change.
    for node_id, _canonical, purl, _old in sorted(planned, key=lambda p: (p[3] != p[1], p[0])):
        keepers.setdefault(purl, node_id)
    pairs, keyed = [], []
    keyed_ids = set()
    for node_id, canonical, purl, old in planned:
        keeper = keepers[purl]
        if keeper != node_id:
            pairs.append({"twin": node_id, "keeper": keeper})
        elif node_id not in keyed_ids:
            keyed_ids.add(node_id)
            keyed.append(
                {"id": node_id, "purl": purl, "name": canonical, "renamed": old != canonical}
            )
    moved = _one(tx, cm.MOVE_PACKAGE_EDGES, "moved", pairs=pairs) if pairs else 0
    if keyed:
        tx.run(cm.KEY_PACKAGES, {"rows": keyed}).consume()
    # Counted here, after the statements: a retried transaction runs this function again.
    report.package_twins_merged += len(pairs)
    report.packages_keyed += len(keyed)
    report.names_normalised += sum(1 for row in keyed if row["renamed"])
    report.edges_moved += moved


def _key_versions(store: Neo4jStore, eco: Ecosystem, report: MigrationReport) -> None:
    after = ""
    while True:
        page = store._read(
            "reading packages",
            partial(_rows, query=cm.package_page_query(eco), after=after, max_rows=BATCH),
        )
        if not page:
            return
        purls = [row["purl"] for row in page]
        store._write(
            "migrating versions", partial(_version_batch, eco=eco, purls=purls, report=report)
        )
        after = purls[-1]


def _version_batch(
    tx: ManagedTransaction, eco: Ecosystem, purls: list[str], report: MigrationReport
) -> None:
    groups: dict[str, list[dict[str, Any]]] = {}
    unkeyable = 0
    for row in _rows(tx, cm.versions_of_query(eco), purls=purls):
        vpurl = _version_purl(eco, row["package"], row["name"])
        if vpurl is None:
            unkeyable += 1
            continue
        groups.setdefault(vpurl, []).append(row)
    pairs, keyed = [], []
    for vpurl, members in groups.items():
        # The one that already has this purl stays (ssc wrote it); else the first by id.
        members.sort(key=lambda r: (r["vpurl"] != vpurl, r["id"]))
        keeper = members[0]
        pairs += [{"twin": m["id"], "keeper": keeper["id"]} for m in members[1:]]
        if keeper["vpurl"] != vpurl:
            keyed.append({"id": keeper["id"], "purl": vpurl})
    moved = _one(tx, cm.MOVE_VERSION_EDGES, "moved", pairs=pairs) if pairs else 0
    if keyed:
        tx.run(cm.KEY_VERSIONS, {"rows": keyed}).consume()
    removed = _one(tx, cm.DEDUPE_VERSION_EDGES, "removed", purls=sorted(groups))
    removed += _one(tx, cm.dedupe_parent_edges_query(eco), "removed", purls=purls)
    report.version_twins_merged += len(pairs)
    report.versions_keyed += len(keyed)
    report.edges_moved += moved
    report.duplicate_edges_removed += removed
    report.unkeyable_versions += unkeyable


def _count_ecosystem(store: Neo4jStore, eco: Ecosystem, report: MigrationReport) -> None:
    """Dry run: what _key_packages and _key_versions would do, computed from reads only."""
    rows = store._read(
        "reading unkeyed packages", partial(_rows, query=cm.all_unkeyed_packages_query(eco))
    )
    by_purl: dict[str, list[tuple[str, str, Any]]] = {}
    for row in rows:
        key = _package_key(eco, row["name"])
        if key is None:
            report.unkeyable_packages += 1
        else:
            by_purl.setdefault(key[1], []).append((row["id"], key[0], row["name"]))
    existing: set[str] = set()
    purls = sorted(by_purl)
    for start in range(0, len(purls), BATCH):
        chunk = purls[start : start + BATCH]
        found = store._read(
            "reading keyed packages",
            partial(_rows, query=cm.keyed_packages_query(eco), purls=chunk),
        )
        existing.update(r["purl"] for r in found)
    for purl, members in by_purl.items():
        twins = len(members) if purl in existing else len(members) - 1
        report.package_twins_merged += twins
        if purl not in existing:
            report.packages_keyed += 1
            members.sort(key=lambda m: (m[2] != m[1], m[0]))
            report.names_normalised += int(members[0][2] != members[0][1])
    versions: Counter[str] = Counter()
    keyed: set[str] = set()
    for row in store._read("reading versions", partial(_rows, query=cm.all_versions_query(eco))):
        package = row["package"]
        if row["purl"] is None:
            key = _package_key(eco, package)
            package = key[0] if key else None
        vpurl = _version_purl(eco, package, row["name"]) if package else None
        if vpurl is None:
            report.unkeyable_versions += 1
            continue
        versions[vpurl] += 1
        if row["vpurl"] == vpurl:
            keyed.add(vpurl)
    report.version_twins_merged += sum(n - 1 for n in versions.values())
    report.versions_keyed += sum(1 for vpurl in versions if vpurl not in keyed)
