"""The GraphStore protocol: the graph contract of DESIGN.md plus cursors, runs and failures."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ssc_cli.graph.licensing import license_export
from ssc_cli.models import (
    Classification,
    Ecosystem,
    KnownPackage,
    LicenseListInfo,
    LicenseRecord,
    PackageLicenseInput,
    PackageRecord,
    serial_numbers,
)

EXTRACTED, PENDING, MISSING = "extracted", "pending", "missing"

# The longest purl the graph keys: Neo4j's range indexes (uniqueness on purl, the name index)
# refuse a value over 8 KiB and fail the whole transaction with it; a purl is ASCII, and a
# name or version is never longer in UTF-8 than its percent-encoded purl part. Real names are
# far shorter (npm: 214 characters, NuGet: 100, crates.io: 64).
MAX_PURL = 4096


def _short(text: str) -> str:
    return repr(text[:60]) + (f" ({len(text)} characters)" if len(text) > 60 else "")


def key_problem(ecosystem: Ecosystem, name: str, version: str | None = None) -> str | None:
    """Why the graph cannot key this package (or version): no purl, or one over MAX_PURL."""
    try:
        purl = ecosystem.purl(name, version)
    except ValueError as exc:
        return f"{_what(name, version)} has no package URL ({exc})"
    if len(purl) > MAX_PURL:
        return (
            f"{_what(name, version)} makes a {len(purl)}-character purl, "
            f"over the graph's limit of {MAX_PURL}"
        )
    return None


def _what(name: str, version: str | None) -> str:
    # Only for a message: built once something is wrong, not for every version (issue 16).
    return f"version {_short(version)}" if version is not None else f"name {_short(name)}"


def record_problem(record: PackageRecord) -> str | None:
    """Why the graph cannot store this record as it is (refused whole, never truncated), or None."""
    eco = record.ecosystem
    problem = key_problem(eco, record.name)
    keyed: set[str] = set()  # dependency names already found keyable (most repeat per version)
    for version in record.versions:
        if problem is not None:
            break
        problem = key_problem(eco, record.name, version.name)
        for req in version.requirements or ():
            if problem is not None:
                break
            if req.name in keyed:
                continue
            problem = key_problem(eco, req.name)
            keyed.add(req.name)
            if problem is not None:
                problem = f"dependency {problem} (of version {_short(version.name)})"
    if problem is None:
        return None
    return f"{eco.value} package {_short(record.name)} refused: {problem}"


@dataclass(slots=True)
class WriteStats:
    """What one batch write changed."""

    packages: int = 0
    new_versions: int = 0
    removed_versions: int = 0


@dataclass(frozen=True, slots=True)
class ParentLink:
    """A REQUIRE edge a queue message asks for: from a Version or RequirementFile to a package."""

    parent_id: (
        str  # SQLite: a version row id, or "rf:<id>" for a requirement file; Neo4j: elementId
    )
    package: str  # the target, in the ecosystem's normalised spelling
    constraints: str = "any"


# The edge key of REQUIRE edges a queue message adds to a version (Requirement().key).
QUEUE_EDGE_KEY = "runtime||"


@dataclass(frozen=True, slots=True)
class VersionVulnRow:
    """A version's attribution as stored (unscored None: never attributed) or to be written."""

    purl: str
    name: str
    vulnerabilities: tuple[str, ...]
    mean: float
    weighted_mean: float
    unscored: int | None


class GraphStore(Protocol):
    """Where packages, versions and REQUIRE edges live; every write is an idempotent upsert."""

    def migrate(self) -> None:
        """Create tables / constraints / indexes if missing."""
        ...

    def ping(self) -> None:
        """Raise GraphUnavailable when the store cannot be reached."""
        ...

    def close(self) -> None: ...

    def write_packages(self, records: Sequence[PackageRecord]) -> WriteStats:
        """Upsert packages, versions and edges in one transaction; targets become pending packages."""
        ...

    def mark(
        self, ecosystem: Ecosystem, names: Iterable[str], status: str, reason: str | None = None
    ) -> None:
        """Set the status of packages (creating them) that were not extracted: pending or missing."""
        ...

    def statuses(self, ecosystem: Ecosystem, names: Iterable[str]) -> dict[str, str]:
        """Status of each stored package among names."""
        ...

    def known(self, ecosystem: Ecosystem, names: Iterable[str]) -> dict[str, KnownPackage]: ...

    def tokens(self, ecosystem: Ecosystem) -> Iterator[tuple[str, str | None]]:
        """(name, token) of every extracted package."""
        ...

    def pending(self, ecosystem: Ecosystem, limit: int | None = None) -> list[str]: ...

    def retry_names(self, ecosystem: Ecosystem) -> list[str]:
        """Extracted packages whose last refresh failed (retried by the next update)."""
        ...

    def count(self, ecosystem: Ecosystem, status: str) -> int: ...

    def cursor(self, ecosystem: Ecosystem, key: str) -> dict[str, Any] | None: ...

    def set_cursor(self, ecosystem: Ecosystem, key: str, value: Mapping[str, Any]) -> None: ...

    def start_run(self, job: str, ecosystem: Ecosystem | None) -> int: ...

    def finish_run(self, run_id: int, status: str, summary: Mapping[str, Any]) -> None: ...

    def record_failures(
        self, run_id: int, ecosystem: Ecosystem, failures: Sequence[tuple[str, str]]
    ) -> None:
        """Remember why each package could not be processed (it stays pending)."""
        ...

    def failures(self, run_id: int) -> list[tuple[str, str, str]]:
        """(ecosystem, name, reason) recorded by a run."""
        ...

    def export(self, ecosystem: Ecosystem | None = None) -> Iterator[dict[str, Any]]:
        """Packages, then versions, then edges, each sorted by purl: the JSON Lines export."""
        ...

    def show(self, ecosystem: Ecosystem, name: str) -> dict[str, Any] | None: ...

    # -- what the queue needs (parents named by id, as depex names them) ------------------

    def add_requirement_file(self, name: str, manager: str | None = None) -> str:
        """Create a RequirementFile node (depex writes these) and return its parent id."""
        ...

    def version_ids(self, ecosystem: Ecosystem, purls: Iterable[str]) -> dict[str, str]:
        """Parent id of each stored version among these version purls."""
        ...

    def link_parents(self, ecosystem: Ecosystem, links: Sequence[ParentLink]) -> list[str]:
        """Write each parent's REQUIRE edge in one transaction (targets become pending when new).

        A version keeps an edge it already has to the target (its own requirement, with its
        marker and key); a requirement file's edge takes the link's constraints. Returns the
        parent ids that name no Version or RequirementFile.
        """
        ...

    def parent_edges(self, parent_id: str) -> list[dict[str, Any]]:
        """REQUIRE edges out of a parent: to (purl), constraints, parent_version_name; by target."""
        ...

    # -- licences (graph/sqlite_licenses.py, graph/neo4j_licenses.py) ------------------------

    def replace_license_list(
        self, version: str, release_date: str | None, records: Sequence[LicenseRecord]
    ) -> None:
        """Upsert every License / exception record and the list version in one transaction
        (ids a newer list lacks are kept: SPDX deprecates, it does not delete)."""
        ...

    def license_list_info(self) -> LicenseListInfo | None:
        """The stored list's version and live counts of its licences, OSI-approved licences and
        exceptions; None before the first sync."""
        ...

    def license_records(self) -> list[LicenseRecord]:
        """Every stored License and exception record (what the classifier's index is built from)."""
        ...

    def license_inputs(
        self,
        ecosystem: Ecosystem,
        *,
        after: str = "",
        limit: int = 1000,
        since: str | None = None,
    ) -> list[PackageLicenseInput]:
        """A page of extracted packages with their versions' signals, from `after` (the last
        page's last `cursor`; by purl) on; `since`: only those written (moment) at or after
        that ISO time (the store may page them in another order)."""
        ...

    def license_inputs_of(
        self, ecosystem: Ecosystem, names: Iterable[str]
    ) -> list[PackageLicenseInput]:
        """license_inputs of these extracted packages."""
        ...

    def write_classifications(
        self, ecosystem: Ecosystem, results: Sequence[Classification], list_version: str
    ) -> None:
        """Store verdicts (package fields, each listed version's own or cleared) in one transaction."""
        ...

    def oss_status_counts(self) -> dict[str, dict[str, int]]:
        """Extracted packages per oss_status ("unclassified" when none yet) per ecosystem."""
        ...

    # -- what the quality checks read (ssc_cli.quality.results.QualityStore) ----------------

    def graph_counts(self, ecosystem: Ecosystem) -> dict[str, int]:
        """packages (extracted), pending, missing, versions, edges of one ecosystem."""
        ...

    def orphan_versions(self, ecosystem: Ecosystem) -> int: ...

    def dangling_edges(self, ecosystem: Ecosystem) -> int: ...

    def duplicate_purls(self, ecosystem: Ecosystem) -> int: ...

    def recent_runs(
        self, jobs: Sequence[str], ecosystem: Ecosystem | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Runs of these jobs, newest first: of the ecosystem or of all (NULL), or every run."""
        ...

    def run_datasets(self) -> list[tuple[str, str | None]]: ...

    def save_check_results(self, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def check_results(self, datasets: Sequence[str] | None = None) -> list[dict[str, Any]]: ...

    # -- what vulnerability attribution needs (graph/sqlite_vulns.py, graph/cypher_vulns.py) --

    def vuln_rows(
        self, ecosystem: Ecosystem, names: Sequence[str]
    ) -> dict[str, list[VersionVulnRow]]:
        """The stored attribution of every version of these packages, by package name."""
        ...

    def write_vulns(self, rows: Sequence[VersionVulnRow]) -> int:
        """Set vulnerabilities, means and unscored count of these versions in one transaction."""
        ...

    def unattributed_packages(self, ecosystem: Ecosystem) -> list[str]:
        """Names of packages with a version never attributed (unscored_vulnerabilities unset)."""
        ...

    def unattributed_versions(self, ecosystem: Ecosystem) -> int:
        """How many stored versions were never attributed."""
        ...


class EcosystemView:
    """A store seen by one registry client while it plans an update (the StoreView protocol)."""

    def __init__(self, store: GraphStore, ecosystem: Ecosystem) -> None:
        self._store = store
        self._ecosystem = ecosystem

    def cursor(self, key: str) -> dict[str, Any] | None:
        return self._store.cursor(self._ecosystem, key)

    def tokens(self) -> Iterator[tuple[str, str | None]]:
        return self._store.tokens(self._ecosystem)

    def known(self, names: Iterable[str]) -> Mapping[str, KnownPackage]:
        return self._store.known(self._ecosystem, names)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def version_serials(record: PackageRecord, stored: Iterable[str] = ()) -> dict[str, int]:
    """Serial numbers over the versions the package will have after this write."""
    names = [v.name for v in record.versions]
    if not record.complete:
        names = sorted(set(names) | set(stored))
    return serial_numbers(record.ecosystem, names)


def dumps(value: Any) -> str:
    """Deterministic compact JSON for stored property blobs."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def package_export(row: Mapping[str, Any]) -> dict[str, Any]:
    """The export object of a package from store-neutral fields."""
    out: dict[str, Any] = {
        "type": "package",
        "ecosystem": row["ecosystem"],
        "name": row["name"],
        "purl": row["purl"],
        "vendor": row["vendor"],
        "repository_url": row["repository_url"],
        "import_names": list(row["import_names"]),
        "status": row["status"],
    }
    if row.get("group_id") is not None:
        out["group_id"] = row["group_id"]
        out["artifact_id"] = row["artifact_id"]
    out.update(license_export(row))
    return out


def version_export(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "version",
        "purl": row["purl"],
        "package": row["package"],
        "name": row["name"],
        "serial_number": row["serial_number"],
        "release_date": row["release_date"],
        "yanked": bool(row["yanked"]),
        "deprecated": row["deprecated"],
        "vulnerabilities": list(row["vulnerabilities"]),
        "mean": row["mean"],
        "weighted_mean": row["weighted_mean"],
    }
    if row.get("platforms"):
        out["platforms"] = list(row["platforms"])
    out.update(license_export(row))
    if row.get("unscored_vulnerabilities") is not None:  # attributed at least once
        out["unscored_vulnerabilities"] = int(row["unscored_vulnerabilities"])
    return out


def requires_export(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "requires",
        "from": row["from"],
        "to": row["to"],
        "constraints": row["constraints"],
        "raw_constraints": row["raw_constraints"],
        "marker": row["marker"],
        "parent_version_name": row["parent_version_name"],
        "kind": row["kind"],
        "optional": bool(row["optional"]),
        "target": row["target"],
    }
