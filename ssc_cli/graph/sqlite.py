"""The embedded default store: one SQLite file, WAL, one transaction per batch."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from ssc_cli.errors import GraphMissing, GraphUnavailable
from ssc_cli.graph.interface import (
    EXTRACTED,
    PENDING,
    WriteStats,
    dumps,
    now_iso,
    package_export,
    requires_export,
    version_export,
    version_serials,
)
from ssc_cli.graph.sqlite_licenses import (
    PACKAGE_LICENSES,
    VERSION_LICENSES,
    SqliteLicenses,
    license_row,
    migrate_licenses,
)
from ssc_cli.graph.sqlite_parents import SqliteParentLinks
from ssc_cli.graph.sqlite_quality import QUALITY_SCHEMA, SqliteQuality
from ssc_cli.graph.sqlite_reads import chunks, reading, reading_rows
from ssc_cli.graph.sqlite_schema import SCHEMA
from ssc_cli.graph.sqlite_vulns import SqliteVulns, migrate_vulns, missing_vuln_columns
from ssc_cli.localdb import open_read_only, open_wal, write_transaction
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord, VersionRecord

_OLDER_READ_ONLY = (
    "the graph {path} was written by an older ssc and is opened read-only: run any writing "
    "ssc command on it once (with write access) to upgrade it"
)


class SqliteStore(SqliteParentLinks, SqliteLicenses, SqliteQuality, SqliteVulns):
    """GraphStore on a SQLite file."""

    def __init__(self, path: Path, *, read_only: bool = False, cache_mb: int = 64) -> None:
        self.path = path
        self.read_only = read_only
        try:
            if read_only:
                self._db = open_read_only(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = open_wal(path, check_same_thread=False)
            self._db.execute("PRAGMA synchronous=NORMAL")
            # SSC_SQLITE_CACHE_MB: the bulk upserts' index pages stay in memory up to this.
            self._db.execute(f"PRAGMA cache_size={-1024 * int(cache_mb)}")
            self._db.execute("PRAGMA temp_store=MEMORY")
        except (sqlite3.Error, OSError) as exc:
            raise GraphUnavailable(
                f"cannot open the SQLite graph {path}: {exc}; check SSC_GRAPH_URI / SSC_DATA_DIR"
            ) from exc
        self._db.row_factory = sqlite3.Row

    @classmethod
    def from_uri(cls, uri: str, *, read_only: bool = False, cache_mb: int = 64) -> SqliteStore:
        """sqlite:///relative/path or sqlite:////absolute/path; read-only needs an existing graph."""
        path = Path(uri.split("sqlite:///", 1)[1] if uri.startswith("sqlite:///") else uri[7:])
        if read_only and not path.is_file():
            raise GraphMissing(
                f"there is no graph at {path}: nothing has been ingested there yet (run "
                "`ssc ingest ECOSYSTEM`), or SSC_GRAPH_URI / SSC_DATA_DIR point elsewhere"
            )
        return cls(path, read_only=read_only, cache_mb=cache_mb)

    # -- lifecycle ------------------------------------------------------------------------

    def migrate(self) -> None:
        try:
            self._db.executescript(SCHEMA + QUALITY_SCHEMA)
            migrate_licenses(self._db)
        except sqlite3.OperationalError as exc:
            if self.read_only and "readonly" in str(exc):
                raise GraphMissing(_OLDER_READ_ONLY.format(path=self.path)) from exc
            raise GraphUnavailable(f"cannot create the schema in {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise GraphUnavailable(f"cannot create the schema in {self.path}: {exc}") from exc
        # Adding columns reads the table then ALTERs it: inside one write transaction, so two
        # processes opening a graph at once do not both add the same column (migrate_vulns
        # checks again under the lock); a graph that has them needs no write at all.
        if missing_vuln_columns(self._db):
            if self.read_only:
                raise GraphMissing(_OLDER_READ_ONLY.format(path=self.path))
            with self._transaction() as db:
                migrate_vulns(db)

    def ping(self) -> None:
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise GraphUnavailable(f"SQLite graph {self.path} unusable: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._db, self._write_failed)

    def _write_failed(self, stage: str, exc: sqlite3.Error) -> GraphUnavailable:
        if stage == "begin":
            return GraphUnavailable(f"cannot write to {self.path}: {exc}")
        return GraphUnavailable(f"write to {self.path} failed and was rolled back: {exc}")

    # -- writes ---------------------------------------------------------------------------

    def write_packages(self, records: Sequence[PackageRecord]) -> WriteStats:
        stats = WriteStats()
        if not records:
            return stats
        moment = now_iso()
        with self._transaction() as db:
            stored = self._stored_versions(db, [r.purl for r in records])
            package_rows = []
            version_rows = []
            stale: list[tuple[str]] = []
            edge_sources: list[tuple[str]] = []
            edge_rows = []
            targets: dict[str, tuple[str, str, str]] = {}
            for record in records:
                purl = record.purl
                have = stored.get(purl, {})
                serials = version_serials(record, have)
                package_rows.append(
                    (
                        purl,
                        record.ecosystem.value,
                        record.name,
                        EXTRACTED,
                        record.vendor,
                        record.repository_url,
                        _import_names(record),
                        purl,
                        moment,
                        record.token,
                        record.extra.get("group_id"),
                        record.extra.get("artifact_id"),
                        dumps(record.licenses) if record.licenses else None,
                        dumps(record.extra) if record.extra else None,
                    )
                )
                names = {v.name for v in record.versions}
                if record.complete:
                    gone = [vpurl for vname, vpurl in have.items() if vname not in names]
                    stale.extend((vpurl,) for vpurl in gone)
                    stats.removed_versions += len(gone)
                for version in record.versions:
                    vpurl = record.ecosystem.purl(record.name, version.name)
                    if version.name not in have:
                        stats.new_versions += 1
                    version_rows.append(
                        (
                            vpurl,
                            purl,
                            version.name,
                            serials.get(version.name, -1),
                            version.release_date,
                            int(version.yanked),
                            version.deprecated,
                            dumps(version.licenses) if version.licenses else None,
                            _keeps_licenses(version),
                            vpurl,
                            dumps(version.extra) if version.extra else None,
                            *_vulns(version),
                        )
                    )
                    if version.requirements is None:
                        continue
                    if version.name in have:  # a new version has no edges to replace
                        edge_sources.append((vpurl,))
                    for req in version.requirements:
                        target = record.ecosystem.purl(req.name)
                        targets[target] = (target, record.ecosystem.value, req.name)
                        edge_rows.append(
                            (
                                vpurl,
                                target,
                                req.key,
                                req.constraints,
                                req.raw_constraints,
                                req.marker,
                                purl,
                                req.kind,
                                int(req.optional),
                                req.target,
                                dumps(req.extra) if req.extra else None,
                            )
                        )
                if not record.complete:
                    # Versions outside this partial list keep their rows; only renumber them.
                    others = {n: s for n, s in serials.items() if n not in names}
                    self._renumber(db, purl, others)
                stats.packages += 1
            db.executemany(
                """INSERT INTO packages (purl, ecosystem, name, status, vendor, repository_url,
                       import_names, moment, token, group_id, artifact_id, licenses, extra, last_error)
                   VALUES (?,?,?,?,?,?,
                       COALESCE(?, (SELECT import_names FROM packages WHERE purl = ?), '[]'),
                       ?,?,?,?,?,?,NULL)
                   ON CONFLICT (purl) DO UPDATE SET status=excluded.status, vendor=excluded.vendor,
                       repository_url=excluded.repository_url, import_names=excluded.import_names,
                       moment=excluded.moment, token=excluded.token, group_id=excluded.group_id,
                       artifact_id=excluded.artifact_id, licenses=excluded.licenses,
                       extra=excluded.extra, last_error=NULL""",
                package_rows,
            )
            if stale:
                db.executemany("DELETE FROM requires WHERE from_purl = ?", stale)
                db.executemany("DELETE FROM versions WHERE purl = ?", stale)
            db.executemany(
                """INSERT INTO versions (purl, package_purl, name, serial_number, release_date,
                       yanked, deprecated, licenses, extra, vulnerabilities, mean, weighted_mean,
                       unscored_vulnerabilities)
                   VALUES (?,?,?,?,?,?,?,
                       COALESCE(?, CASE WHEN ? THEN
                           (SELECT licenses FROM versions WHERE purl = ?) END),
                       ?, COALESCE(?, '[]'), ?, ?, ?)
                   ON CONFLICT (purl) DO UPDATE SET serial_number=excluded.serial_number,
                       release_date=excluded.release_date, yanked=excluded.yanked,
                       deprecated=excluded.deprecated, licenses=excluded.licenses,
                       extra=excluded.extra,
                       vulnerabilities=CASE WHEN excluded.unscored_vulnerabilities IS NULL
                           THEN versions.vulnerabilities ELSE excluded.vulnerabilities END,
                       mean=CASE WHEN excluded.unscored_vulnerabilities IS NULL
                           THEN versions.mean ELSE excluded.mean END,
                       weighted_mean=CASE WHEN excluded.unscored_vulnerabilities IS NULL
                           THEN versions.weighted_mean ELSE excluded.weighted_mean END,
                       unscored_vulnerabilities=COALESCE(excluded.unscored_vulnerabilities,
                           versions.unscored_vulnerabilities)""",
                version_rows,
            )
            db.executemany("DELETE FROM requires WHERE from_purl = ?", edge_sources)
            db.executemany(
                "INSERT INTO packages (purl, ecosystem, name) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                list(targets.values()),
            )
            db.executemany(
                """INSERT INTO requires (from_purl, to_purl, key, constraints, raw_constraints,
                       marker, parent_version_name, kind, optional, target, extra)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT (from_purl, to_purl, key) DO UPDATE SET
                       constraints=excluded.constraints, raw_constraints=excluded.raw_constraints,
                       optional=excluded.optional, extra=excluded.extra""",
                edge_rows,
            )
        return stats

    def _stored_versions(
        self, db: sqlite3.Connection, purls: Sequence[str]
    ) -> dict[str, dict[str, str]]:
        stored: dict[str, dict[str, str]] = {}
        for chunk in chunks(purls):
            marks = ",".join("?" * len(chunk))
            for row in db.execute(
                f"SELECT package_purl, name, purl FROM versions WHERE package_purl IN ({marks})",
                chunk,
            ):
                stored.setdefault(row[0], {})[row[1]] = row[2]
        return stored

    def _renumber(
        self, db: sqlite3.Connection, package_purl: str, serials: Mapping[str, int]
    ) -> None:
        db.executemany(
            "UPDATE versions SET serial_number = ? WHERE package_purl = ? AND name = ?",
            [(serial, package_purl, name) for name, serial in serials.items()],
        )

    def mark(
        self, ecosystem: Ecosystem, names: Iterable[str], status: str, reason: str | None = None
    ) -> None:
        rows = [(ecosystem.purl(n), ecosystem.value, n, status, reason) for n in names]
        if not rows:
            return
        with self._transaction() as db:
            db.executemany(
                """INSERT INTO packages (purl, ecosystem, name, status, last_error)
                   VALUES (?,?,?,?,?)
                   ON CONFLICT (purl) DO UPDATE SET status=excluded.status,
                       last_error=excluded.last_error
                   WHERE packages.status != 'extracted' OR excluded.status = 'missing'""",
                rows,
            )

    def set_cursor(self, ecosystem: Ecosystem, key: str, value: Mapping[str, Any]) -> None:
        with self._transaction() as db:
            db.execute(
                """INSERT INTO cursors (ecosystem, key, value, updated_at) VALUES (?,?,?,?)
                   ON CONFLICT (ecosystem, key) DO UPDATE SET value=excluded.value,
                       updated_at=excluded.updated_at""",
                (ecosystem.value, key, dumps(dict(value)), now_iso()),
            )

    def start_run(self, job: str, ecosystem: Ecosystem | None) -> int:
        with self._transaction() as db:
            cur = db.execute(
                "INSERT INTO runs (job, ecosystem, started_at) VALUES (?,?,?)",
                (job, ecosystem.value if ecosystem else None, now_iso()),
            )
            return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, status: str, summary: Mapping[str, Any]) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at=?, status=?, summary=? WHERE id=?",
                (now_iso(), status, dumps(dict(summary)), run_id),
            )

    def record_failures(
        self, run_id: int, ecosystem: Ecosystem, failures: Sequence[tuple[str, str]]
    ) -> None:
        if not failures:
            return
        at = now_iso()
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO failures (run_id, ecosystem, name, reason, at) VALUES (?,?,?,?,?)",
                [(run_id, ecosystem.value, name, reason, at) for name, reason in failures],
            )
            db.executemany(
                """INSERT INTO packages (purl, ecosystem, name, status, last_error)
                   VALUES (?,?,?,?,?)
                   ON CONFLICT (purl) DO UPDATE SET last_error=excluded.last_error""",
                [
                    (ecosystem.purl(name), ecosystem.value, name, PENDING, reason)
                    for name, reason in failures
                ],
            )

    # -- reads ----------------------------------------------------------------------------

    @reading
    def statuses(self, ecosystem: Ecosystem, names: Iterable[str]) -> dict[str, str]:
        result: dict[str, str] = {}
        for chunk in chunks([ecosystem.purl(n) for n in names]):
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(
                f"SELECT name, status FROM packages WHERE purl IN ({marks})", chunk
            ):
                result[row[0]] = row[1]
        return result

    @reading
    def known(self, ecosystem: Ecosystem, names: Iterable[str]) -> dict[str, KnownPackage]:
        purls = [ecosystem.purl(n) for n in names]
        rows: dict[str, tuple[str, str, str | None]] = {}
        for chunk in chunks(purls):
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(
                f"SELECT purl, name, status, token FROM packages WHERE purl IN ({marks})", chunk
            ):
                rows[row[0]] = (row[1], row[2], row[3])
        versions = self._stored_versions(self._db, list(rows))
        return {
            name: KnownPackage(status, token, frozenset(versions.get(purl, {})))
            for purl, (name, status, token) in rows.items()
        }

    @reading_rows
    def tokens(self, ecosystem: Ecosystem) -> Iterator[tuple[str, str | None]]:
        cur = self._db.execute(
            "SELECT name, token FROM packages WHERE ecosystem = ? AND status = ? ORDER BY name",
            (ecosystem.value, EXTRACTED),
        )
        for row in cur:
            yield row[0], row[1]

    @reading
    def pending(self, ecosystem: Ecosystem, limit: int | None = None) -> list[str]:
        cur = self._db.execute(
            "SELECT name FROM packages WHERE ecosystem = ? AND status = ? ORDER BY name LIMIT ?",
            (ecosystem.value, PENDING, -1 if limit is None else limit),
        )
        return [row[0] for row in cur]

    @reading
    def retry_names(self, ecosystem: Ecosystem) -> list[str]:
        cur = self._db.execute(
            """SELECT name FROM packages WHERE ecosystem = ? AND status = ?
               AND last_error IS NOT NULL ORDER BY name""",
            (ecosystem.value, EXTRACTED),
        )
        return [row[0] for row in cur]

    @reading
    def count(self, ecosystem: Ecosystem, status: str) -> int:
        row = self._db.execute(
            "SELECT count(*) FROM packages WHERE ecosystem = ? AND status = ?",
            (ecosystem.value, status),
        ).fetchone()
        return int(row[0])

    @reading
    def cursor(self, ecosystem: Ecosystem, key: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT value FROM cursors WHERE ecosystem = ? AND key = ?", (ecosystem.value, key)
        ).fetchone()
        return dict(json.loads(row[0])) if row else None

    @reading
    def failures(self, run_id: int) -> list[tuple[str, str, str]]:
        cur = self._db.execute(
            "SELECT ecosystem, name, reason FROM failures WHERE run_id = ? ORDER BY ecosystem, name",
            (run_id,),
        )
        return [(row[0], row[1], row[2]) for row in cur]

    @reading_rows
    def export(self, ecosystem: Ecosystem | None = None) -> Iterator[dict[str, Any]]:
        where, args = ("WHERE p.ecosystem = ?", (ecosystem.value,)) if ecosystem else ("", ())
        for row in self._db.execute(
            f"SELECT p.*, {PACKAGE_LICENSES} {where} ORDER BY p.purl", args
        ):
            yield package_export(_package_row(row))
        vwhere = "WHERE p.ecosystem = ?" if ecosystem else ""
        for row in self._db.execute(
            f"""SELECT v.*, {VERSION_LICENSES} JOIN packages p ON p.purl = v.package_purl
                {vwhere} ORDER BY v.purl""",
            args,
        ):
            yield version_export(_version_row(row))
        for row in self._db.execute(
            f"""SELECT r.* FROM requires r JOIN versions v ON v.purl = r.from_purl
                JOIN packages p ON p.purl = v.package_purl {vwhere}
                ORDER BY r.from_purl, r.to_purl, r.key""",
            args,
        ):
            yield requires_export(_requires_row(row))

    @reading
    def show(self, ecosystem: Ecosystem, name: str) -> dict[str, Any] | None:
        purl = ecosystem.purl(ecosystem.normalize_name(name))
        row = self._db.execute(
            f"SELECT p.*, {PACKAGE_LICENSES} WHERE p.purl = ?", (purl,)
        ).fetchone()
        if row is None:
            return None
        package = package_export(_package_row(row))
        package["moment"] = row["moment"]
        package["last_error"] = row["last_error"]
        versions = []
        for vrow in self._db.execute(
            f"""SELECT v.*, {VERSION_LICENSES} WHERE v.package_purl = ?
                ORDER BY v.serial_number, v.name""",
            (purl,),
        ):
            version = version_export(_version_row(vrow))
            version["requires"] = [
                requires_export(_requires_row(r))
                for r in self._db.execute(
                    "SELECT * FROM requires WHERE from_purl = ? ORDER BY to_purl, key",
                    (vrow["purl"],),
                )
            ]
            versions.append(version)
        package["versions"] = versions
        return package


def _package_row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["import_names"] = json.loads(row["import_names"])
    data.update(license_row(row))
    return data


def _version_row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["package"] = row["package_purl"]
    data["vulnerabilities"] = json.loads(row["vulnerabilities"])
    data["platforms"] = json.loads(row["extra"]).get("platforms") if row["extra"] else None
    data.update(license_row(row))
    return data


def _requires_row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["from"] = row["from_purl"]
    data["to"] = row["to_purl"]
    return data


def _import_names(record: PackageRecord) -> str | None:
    """The JSON list to store; None keeps what the row has (not read this time)."""
    if record.import_names is None:
        return None
    return dumps(sorted(set(record.import_names)))


def _vulns(version: VersionRecord) -> tuple[str | None, float, float, int | None]:
    """Attribution columns; unscored None (not attributed this time) keeps the stored ones."""
    if version.unscored_vulnerabilities is None:
        return None, 0.0, 0.0, None
    return (
        dumps(list(version.vulnerabilities or [])),
        version.mean,
        version.weighted_mean,
        version.unscored_vulnerabilities,
    )


def _keeps_licenses(version: VersionRecord) -> int:
    """1 when the version's own metadata was not read this time: its stored licences stay."""
    return int(version.requirements is None and not version.licenses)
