"""Neo4j 5 store: the graph contract written with UNWIND batches in managed transactions."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from neo4j import Driver, GraphDatabase, ManagedTransaction
from neo4j.exceptions import (
    AuthError,
    ConfigurationError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
)

from ssc_cli.errors import GraphUnavailable
from ssc_cli.graph import cypher, cypher_licenses, cypher_parents
from ssc_cli.graph.cypher_quality import Neo4jQuality
from ssc_cli.graph.cypher_vulns import Neo4jVulns
from ssc_cli.graph.interface import (
    QUEUE_EDGE_KEY,
    ParentLink,
    WriteStats,
    dumps,
    now_iso,
    package_export,
    requires_export,
    version_export,
)
from ssc_cli.graph.neo4j_lease import Neo4jLeases
from ssc_cli.graph.neo4j_licenses import Neo4jLicenses
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord
from ssc_cli.settings import redact_url, split_credentials

log = logging.getLogger(__name__)

T = TypeVar("T")
_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
_CHUNK = 5_000  # rows per UNWIND in reads: bounded request size, few round trips
_PAGE = 5_000  # rows per export / token page, each page its own read transaction


def _rows(tx: ManagedTransaction, query: str, **params: Any) -> list[dict[str, Any]]:
    """Run one statement and materialise its records (results must be consumed inside the tx)."""
    return [dict(record) for record in tx.run(query, params).data()]


def _run(tx: ManagedTransaction, query: str, **params: Any) -> None:
    tx.run(query, params).consume()


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def moment_text(value: Any) -> str | None:
    """A stored moment (Neo4j DateTime, Python datetime or text) as the ISO text SQLite keeps."""
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "to_native"):  # neo4j.time.DateTime
        value = value.to_native()
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


class Neo4jStore(Neo4jLicenses, Neo4jQuality, Neo4jVulns, Neo4jLeases):
    """GraphStore on a Neo4j 5 server reached with the official driver."""

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        database: str | None = None,
        *,
        connection_timeout: float = 10.0,
        max_transaction_retry_time: float = 30.0,
    ) -> None:
        self.uri = redact_url(uri)
        # Credentials written into the URI become the auth, and the driver never sees them in
        # the URI: its error messages quote the URI it was given.
        uri, uri_user, uri_password = split_credentials(uri)
        user, password = uri_user or user, uri_password or password
        self._user = user
        self._secret = password
        self._database = database
        self._verified = False
        scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
        if scheme not in _SCHEMES:
            # The 6.x driver also takes http:// (a preview needing extra packages): Bolt only here.
            raise GraphUnavailable(
                f"cannot use the Neo4j URI {self.uri}: the scheme must be one of "
                f"{', '.join(_SCHEMES)}; check SSC_GRAPH_URI"
            )
        try:
            self._driver: Driver = GraphDatabase.driver(
                uri,
                auth=(user, password),
                connection_timeout=connection_timeout,
                max_transaction_retry_time=max_transaction_retry_time,
            )
        except (ConfigurationError, ValueError) as exc:
            # Not chained: the driver's message quotes the URI, password included.
            raise GraphUnavailable(
                f"cannot use the Neo4j URI {self.uri}: {self._scrub(exc)}; "
                "check SSC_GRAPH_URI (bolt://host:7687 or neo4j://host:7687)"
            ) from None

    # -- plumbing -------------------------------------------------------------------------

    def _scrub(self, exc: BaseException) -> str:
        """The error text without the password, whatever the driver put in it."""
        text = str(exc) or type(exc).__name__
        return text.replace(self._secret, "***") if self._secret else text

    def _translate(self, exc: Exception, action: str) -> GraphUnavailable:
        where = f"Neo4j at {self.uri}"
        if isinstance(exc, AuthError):
            return GraphUnavailable(
                f"{where} refused the credentials of user {self._user!r} while {action}: "
                f"{self._scrub(exc)}; check SSC_GRAPH_USER / SSC_GRAPH_PASSWORD"
            )
        if isinstance(exc, ServiceUnavailable | SessionExpired):
            return GraphUnavailable(
                f"cannot reach {where} while {action}: {self._scrub(exc)}; "
                "check that the server is running and SSC_GRAPH_URI points at its Bolt port"
            )
        if isinstance(exc, Neo4jError):
            return GraphUnavailable(
                f"{where} refused {action}: {exc.code}: {self._scrub(exc)}; "
                "check the server log and that the database exists"
            )
        return GraphUnavailable(f"{where} failed while {action}: {self._scrub(exc)}")

    def _connect(self) -> None:
        """Fail fast on first use: managed transactions would otherwise retry an unreachable server."""
        if self._verified:
            return
        try:
            self._driver.verify_connectivity()
        except (Neo4jError, DriverError, OSError) as exc:
            raise self._translate(exc, "connecting") from exc
        self._verified = True

    def _work(self, write: bool, action: str, fn: Callable[[ManagedTransaction], T]) -> T:
        """fn in one managed transaction (retried by the driver on transient errors)."""
        self._connect()
        try:
            with self._driver.session(database=self._database) as session:
                if write:
                    return session.execute_write(fn)
                return session.execute_read(fn)
        except (ServiceUnavailable, SessionExpired) as exc:
            # The driver retried for max_transaction_retry_time and the server is still gone:
            # the next call checks it is back before retrying that long again, so the writes
            # and run records a dying run still attempts fail at once (a server killed in the
            # middle of an ingest: exit 5 in one retry window, not one per attempt).
            self._verified = False
            raise self._translate(exc, action) from exc
        except (Neo4jError, DriverError, OSError) as exc:
            raise self._translate(exc, action) from exc

    def _read(self, action: str, fn: Callable[[ManagedTransaction], T]) -> T:
        return self._work(False, action, fn)

    def _write(self, action: str, fn: Callable[[ManagedTransaction], T]) -> T:
        return self._work(True, action, fn)

    # -- lifecycle ------------------------------------------------------------------------

    def migrate(self) -> None:
        from ssc_cli.graph import migrate_legacy as migration

        # A graph the old pipeline wrote is refused (exit 2) until `ssc graph migrate` ran.
        marked = migration.refuse_unmigrated(self)
        self._create_schema()
        if not marked:
            migration.write_marker(self)

    def _create_schema(self) -> None:
        self._schema([*cypher.schema_statements(), *cypher_licenses.schema_statements()])

    def _schema(self, statements: list[str]) -> None:
        """Each statement (IF NOT EXISTS) in its own transaction, as schema changes must be."""
        self._connect()
        for statement in statements:
            try:
                with self._driver.session(database=self._database) as session:
                    session.execute_write(partial(_run, query=statement))
            except Neo4jError as exc:
                # An index made by a database dump on the same property blocks the matching
                # constraint; lookups still use that index, so carry on and say so.
                if exc.code and exc.code.endswith("AlreadyExists"):
                    log.warning(
                        "Neo4j schema at %s: %s (kept the existing one)", self.uri, exc.code
                    )
                    continue
                raise self._translate(exc, "creating the schema") from exc
            except (DriverError, OSError) as exc:
                raise self._translate(exc, "creating the schema") from exc

    def ping(self) -> None:
        self._read("pinging", lambda tx: _rows(tx, "RETURN 1 AS one"))

    def close(self) -> None:
        self._driver.close()

    # -- writes ---------------------------------------------------------------------------

    def write_packages(self, records: Sequence[PackageRecord]) -> WriteStats:
        if not records:
            return WriteStats()
        moment = now_iso()
        by_eco: dict[Ecosystem, list[PackageRecord]] = {}
        for record in records:
            by_eco.setdefault(record.ecosystem, []).append(record)

        def work(tx: ManagedTransaction) -> WriteStats:
            # Everything is computed inside: the driver may run this function again on retry.
            stats = WriteStats()
            for eco, group in by_eco.items():
                stored: dict[str, dict[str, str]] = {}
                for row in _rows(
                    tx, cypher.stored_versions_query(eco), purls=[r.purl for r in group]
                ):
                    stored.setdefault(row["purl"], {})[row["name"]] = row["vpurl"]
                plan = cypher.plan_write(group, stored, moment)
                _run(tx, cypher.upsert_packages_query(eco), rows=plan.packages)
                if plan.stale:
                    _run(tx, cypher.DELETE_VERSIONS, purls=plan.stale)
                _run(tx, cypher.upsert_versions_query(eco), rows=plan.versions)
                if plan.renumber:
                    _run(tx, cypher.RENUMBER_VERSIONS, rows=plan.renumber)
                if plan.targets:
                    _run(tx, cypher.create_targets_query(eco), rows=plan.targets)
                if plan.prune:
                    _run(tx, cypher.PRUNE_EDGES, rows=plan.prune)
                if plan.edges:
                    _run(tx, cypher.merge_edges_query(eco), rows=plan.edges)
                stats.packages += plan.stats.packages
                stats.new_versions += plan.stats.new_versions
                stats.removed_versions += plan.stats.removed_versions
            return stats

        return self._write("writing packages", work)

    def mark(
        self, ecosystem: Ecosystem, names: Iterable[str], status: str, reason: str | None = None
    ) -> None:
        rows = [
            {"purl": ecosystem.purl(n), "name": n, "status": status, "reason": reason}
            for n in names
        ]
        if rows:
            self._write(
                "marking packages", lambda tx: _run(tx, cypher.mark_query(ecosystem), rows=rows)
            )

    def set_cursor(self, ecosystem: Ecosystem, key: str, value: Mapping[str, Any]) -> None:
        params = {
            "ecosystem": ecosystem.value,
            "cursor_key": key,
            "value": dumps(dict(value)),
            "now": now_iso(),
        }
        self._write("saving a cursor", lambda tx: _run(tx, cypher.SET_CURSOR, **params))

    def start_run(self, job: str, ecosystem: Ecosystem | None) -> int:
        eco = ecosystem.value if ecosystem else None

        def work(tx: ManagedTransaction) -> int:
            rows = _rows(tx, cypher.START_RUN, job=job, ecosystem=eco, now=now_iso())
            return int(rows[0]["id"])

        return self._write("starting a run", work)

    def finish_run(self, run_id: int, status: str, summary: Mapping[str, Any]) -> None:
        params = {
            "run_id": run_id,
            "status": status,
            "summary": dumps(dict(summary)),
            "now": now_iso(),
        }
        self._write("finishing a run", lambda tx: _run(tx, cypher.FINISH_RUN, **params))

    def record_failures(
        self, run_id: int, ecosystem: Ecosystem, failures: Sequence[tuple[str, str]]
    ) -> None:
        if not failures:
            return
        at = now_iso()
        rows = [
            {
                "run_id": run_id,
                "ecosystem": ecosystem.value,
                "purl": ecosystem.purl(name),
                "name": name,
                "reason": reason,
                "failed_at": at,
            }
            for name, reason in failures
        ]

        def work(tx: ManagedTransaction) -> None:
            _run(tx, cypher.CREATE_FAILURES, rows=rows)
            _run(tx, cypher.failed_packages_query(ecosystem), rows=rows)

        self._write("recording failures", work)

    # -- reads ----------------------------------------------------------------------------

    def _by_purls(self, action: str, query: str, purls: Sequence[str]) -> Iterator[dict[str, Any]]:
        for chunk in _chunks(purls):
            yield from self._read(action, partial(_rows, query=query, purls=list(chunk)))

    def statuses(self, ecosystem: Ecosystem, names: Iterable[str]) -> dict[str, str]:
        purls = [ecosystem.purl(n) for n in names]
        query = cypher.statuses_query(ecosystem)
        return {
            row["name"]: row["status"] for row in self._by_purls("reading statuses", query, purls)
        }

    def known(self, ecosystem: Ecosystem, names: Iterable[str]) -> dict[str, KnownPackage]:
        purls = [ecosystem.purl(n) for n in names]
        query = cypher.known_query(ecosystem)
        return {
            row["name"]: KnownPackage(row["status"], row["token"], frozenset(row["versions"]))
            for row in self._by_purls("reading known packages", query, purls)
        }

    def tokens(self, ecosystem: Ecosystem) -> Iterator[tuple[str, str | None]]:
        query = cypher.tokens_page_query(ecosystem)
        after = ""
        while True:
            page = self._read(
                "reading tokens", partial(_rows, query=query, after=after, max_rows=_PAGE)
            )
            for row in page:
                yield row["name"], row["token"]
            if len(page) < _PAGE:
                return
            after = page[-1]["name"]

    def pending(self, ecosystem: Ecosystem, limit: int | None = None) -> list[str]:
        query = cypher.pending_query(ecosystem, limited=limit is not None)
        params: dict[str, Any] = {} if limit is None else {"max_rows": limit}
        rows = self._read("reading pending packages", lambda tx: _rows(tx, query, **params))
        return [row["name"] for row in rows]

    def retry_names(self, ecosystem: Ecosystem) -> list[str]:
        rows = self._read(
            "reading failed refreshes", partial(_rows, query=cypher.retry_query(ecosystem))
        )
        return [row["name"] for row in rows]

    def count(self, ecosystem: Ecosystem, status: str) -> int:
        rows = self._read(
            "counting packages",
            lambda tx: _rows(tx, cypher.count_query(ecosystem), status=status),
        )
        return int(rows[0]["n"]) if rows else 0

    def cursor(self, ecosystem: Ecosystem, key: str) -> dict[str, Any] | None:
        rows = self._read(
            "reading a cursor",
            lambda tx: _rows(tx, cypher.GET_CURSOR, ecosystem=ecosystem.value, cursor_key=key),
        )
        return dict(json.loads(rows[0]["value"])) if rows else None

    def failures(self, run_id: int) -> list[tuple[str, str, str]]:
        rows = self._read(
            "reading failures", lambda tx: _rows(tx, cypher.GET_FAILURES, run_id=run_id)
        )
        out = [(row["ecosystem"], row["name"], row["reason"]) for row in rows]
        out.sort(key=lambda item: (item[0], item[1]))  # stable: ties keep the server's order
        return out

    def export(self, ecosystem: Ecosystem | None = None) -> Iterator[dict[str, Any]]:
        ecosystems = cypher.export_order([ecosystem] if ecosystem else list(Ecosystem))
        for eco in ecosystems:
            for row in self._pages(cypher.packages_page_query(eco), "purl", {}):
                yield package_export({**row, "ecosystem": eco.value})
        for eco in ecosystems:
            for page in self._version_pages(eco):
                for row in page:
                    if row["package"] is not None:
                        yield version_export(row)
        for eco in ecosystems:
            for page in self._version_pages(eco):
                purls = [row["purl"] for row in page if row["package"] is not None]
                if not purls:
                    continue
                edges = [
                    cypher.edge_row(e)
                    for e in self._read(
                        "exporting edges",
                        partial(_rows, query=cypher.EDGES_OF_VERSIONS, purls=purls),
                    )
                ]
                edges.sort(key=lambda e: (e["from"], e["to"], e["key"]))
                for edge in edges:
                    yield requires_export(edge)

    def _pages(self, query: str, key: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        after = ""
        while True:
            page = self._read(
                "exporting",
                partial(_rows, query=query, after=after, max_rows=_PAGE, **params),
            )
            yield from page
            if len(page) < _PAGE:
                return
            after = page[-1][key]

    def _version_pages(self, eco: Ecosystem) -> Iterator[list[dict[str, Any]]]:
        """Versions of the ecosystem in purl order, one list per page."""
        query = cypher.versions_page_query(eco)
        prefix = cypher.purl_prefix(eco)
        after = ""
        while True:
            page = self._read(
                "exporting versions",
                partial(_rows, query=query, after=after, prefix=prefix, max_rows=_PAGE),
            )
            # OPTIONAL MATCH may not keep the window's order: sort it here.
            page.sort(key=lambda row: str(row["purl"]))
            yield page
            if len(page) < _PAGE:
                return
            after = page[-1]["purl"]

    def show(self, ecosystem: Ecosystem, name: str) -> dict[str, Any] | None:
        purl = ecosystem.purl(ecosystem.normalize_name(name))

        def work(tx: ManagedTransaction) -> dict[str, Any] | None:
            rows = _rows(tx, cypher.show_package_query(ecosystem), purl=purl)
            if not rows:
                return None
            row = rows[0]
            package = package_export({**row, "ecosystem": ecosystem.value})
            package["moment"] = moment_text(row["moment"])
            package["last_error"] = row["last_error"]
            vrows = _rows(tx, cypher.show_versions_query(ecosystem), purl=purl)
            vrows.sort(key=lambda v: (v["serial_number"], v["name"]))
            edges = [
                cypher.edge_row(e)
                for e in _rows(tx, cypher.EDGES_OF_VERSIONS, purls=[v["purl"] for v in vrows])
            ]
            by_version: dict[str, list[dict[str, Any]]] = {}
            for edge in sorted(edges, key=lambda e: (e["to"], e["key"])):
                by_version.setdefault(edge["from"], []).append(requires_export(edge))
            versions = []
            for vrow in vrows:
                version = version_export(vrow)
                version["requires"] = by_version.get(vrow["purl"], [])
                versions.append(version)
            package["versions"] = versions
            return package

        return self._read("showing a package", work)

    # -- queue parents (elementId) -----------------------------------------------------------

    def add_requirement_file(self, name: str, manager: str | None = None) -> str:
        params = {"name": name, "manager": manager, "at": now_iso()}
        rows = self._write(
            "creating a requirement file",
            lambda tx: _rows(tx, cypher_parents.CREATE_REQUIREMENT_FILE, **params),
        )
        return str(rows[0]["id"])

    def version_ids(self, ecosystem: Ecosystem, purls: Iterable[str]) -> dict[str, str]:
        rows = self._by_purls("reading version ids", cypher_parents.VERSION_IDS, list(purls))
        return {row["purl"]: str(row["id"]) for row in rows}

    def link_parents(self, ecosystem: Ecosystem, links: Sequence[ParentLink]) -> list[str]:
        if not links:
            return []
        ids = sorted({link.parent_id for link in links})

        def work(tx: ManagedTransaction) -> list[str]:
            kinds = {
                row["id"]: (bool(row["is_file"]), row["owner"])
                for row in _rows(tx, cypher_parents.PARENT_KINDS, ids=ids)
            }
            files: list[dict[str, Any]] = []
            versions: list[dict[str, Any]] = []
            for link in links:
                kind = kinds.get(link.parent_id)
                if kind is None:
                    continue
                row = {
                    "parent": link.parent_id,
                    "purl": ecosystem.purl(link.package),
                    "name": link.package,
                    "constraints": link.constraints,
                    "key": QUEUE_EDGE_KEY,
                    "owner": kind[1],
                }
                (files if kind[0] else versions).append(row)
            if files:
                _run(tx, cypher_parents.link_files_query(ecosystem), rows=files)
            if versions:
                _run(tx, cypher_parents.link_versions_query(ecosystem), rows=versions)
            return [i for i in ids if i not in kinds]

        return self._write("linking parents", work)

    def parent_edges(self, parent_id: str) -> list[dict[str, Any]]:
        return self._read(
            "reading parent edges",
            lambda tx: _rows(tx, cypher_parents.PARENT_EDGES, id=parent_id),
        )
