"""SQLite side of licences: the SPDX list tables, the classification columns and their migration."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from ssc_cli.graph.interface import EXTRACTED, dumps, now_iso
from ssc_cli.graph.licensing import LICENSE_FIELDS, UNCLASSIFIED, verdict_fields
from ssc_cli.graph.sqlite_reads import chunks, reading
from ssc_cli.models import (
    Classification,
    Ecosystem,
    LicenseListInfo,
    LicenseRecord,
    PackageLicenseInput,
    VersionLicenseInput,
)

LICENSE_SCHEMA = """
CREATE TABLE IF NOT EXISTS licenses (
    spdx_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    osi_approved INTEGER NOT NULL,
    fsf_libre INTEGER,
    deprecated INTEGER NOT NULL,
    see_also TEXT NOT NULL DEFAULT '[]',
    list_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS license_exceptions (
    spdx_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    deprecated INTEGER NOT NULL,
    see_also TEXT NOT NULL DEFAULT '[]',
    list_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS license_list (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version TEXT NOT NULL,
    release_date TEXT,
    synced_at TEXT NOT NULL
);
"""
_STATUS_CHECK = (
    "CHECK (oss_status IS NULL OR oss_status IN ('open_source','proprietary','unknown'))"
)
_COLUMNS = {
    "license_expression": "TEXT",
    "license_raw": "TEXT",
    "oss_status": f"TEXT {_STATUS_CHECK}",
    "oss_reason": "TEXT",
    "license_ids": "TEXT",
    "license_list_version": "TEXT",
    "classified_at": "TEXT",
}
_PACKAGE_ONLY = {"license_digest": "TEXT"}
_PAGE_SQL = """SELECT purl, name, licenses, license_digest, license_list_version, oss_status
    FROM packages WHERE ecosystem = ? AND status = ? AND purl > ? {extra}
    ORDER BY purl LIMIT ?"""


def migrate_licenses(db: sqlite3.Connection) -> None:
    """Tables, and the classification columns added to graphs an older ssc wrote (idempotent)."""
    db.executescript(LICENSE_SCHEMA)
    # Inside one write transaction: two processes migrating at once add each column once.
    db.execute("BEGIN IMMEDIATE")
    try:
        for table, columns in (
            ("packages", {**_COLUMNS, **_PACKAGE_ONLY}),
            ("versions", _COLUMNS),
        ):
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
        db.execute("CREATE INDEX IF NOT EXISTS packages_oss ON packages (ecosystem, oss_status)")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


class _Store(Protocol):
    path: Path
    _db: sqlite3.Connection

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...


def license_row(row: sqlite3.Row) -> dict[str, Any]:
    """The licence fields of a package or version row, license_ids as a list."""
    keys = set(row.keys())  # a Row's `in` looks at values, not column names
    data = {name: row[name] for name in LICENSE_FIELDS if name in keys}
    raw = data.get("license_ids")
    data["license_ids"] = json.loads(raw) if raw else []
    return data


class SqliteLicenses:
    """Licence methods of SqliteStore (mixed in; it provides _db and _transaction)."""

    # -- the SPDX list ----------------------------------------------------------------------

    def replace_license_list(
        self: _Store, version: str, release_date: str | None, records: Sequence[LicenseRecord]
    ) -> None:
        licences = [r for r in records if not r.is_exception]
        exceptions = [r for r in records if r.is_exception]
        with self._transaction() as db:
            db.executemany(
                """INSERT INTO licenses (spdx_id, name, osi_approved, fsf_libre, deprecated,
                       see_also, list_version) VALUES (?,?,?,?,?,?,?)
                   ON CONFLICT (spdx_id) DO UPDATE SET name=excluded.name,
                       osi_approved=excluded.osi_approved, fsf_libre=excluded.fsf_libre,
                       deprecated=excluded.deprecated, see_also=excluded.see_also,
                       list_version=excluded.list_version""",
                [
                    (
                        r.spdx_id,
                        r.name,
                        int(r.osi_approved),
                        None if r.fsf_libre is None else int(r.fsf_libre),
                        int(r.deprecated),
                        dumps(list(r.see_also)),
                        version,
                    )
                    for r in licences
                ],
            )
            db.executemany(
                """INSERT INTO license_exceptions (spdx_id, name, deprecated, see_also,
                       list_version) VALUES (?,?,?,?,?)
                   ON CONFLICT (spdx_id) DO UPDATE SET name=excluded.name,
                       deprecated=excluded.deprecated, see_also=excluded.see_also,
                       list_version=excluded.list_version""",
                [
                    (r.spdx_id, r.name, int(r.deprecated), dumps(list(r.see_also)), version)
                    for r in exceptions
                ],
            )
            db.execute(
                """INSERT INTO license_list (id, version, release_date, synced_at)
                   VALUES (1,?,?,?) ON CONFLICT (id) DO UPDATE SET version=excluded.version,
                       release_date=excluded.release_date, synced_at=excluded.synced_at""",
                (version, release_date, now_iso()),
            )

    @reading
    def license_list_info(self: _Store) -> LicenseListInfo | None:
        row = self._db.execute(
            "SELECT version, release_date, synced_at FROM license_list WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        counts = self._db.execute(
            "SELECT count(*), coalesce(sum(osi_approved), 0) FROM licenses WHERE list_version = ?",
            (row[0],),
        ).fetchone()
        exceptions = self._db.execute(
            "SELECT count(*) FROM license_exceptions WHERE list_version = ?", (row[0],)
        ).fetchone()
        return LicenseListInfo(
            row[0], row[1], row[2], int(counts[0]), int(counts[1]), int(exceptions[0])
        )

    @reading
    def license_records(self: _Store) -> list[LicenseRecord]:
        out = [
            LicenseRecord(
                spdx_id=row[0],
                name=row[1],
                osi_approved=bool(row[2]),
                fsf_libre=None if row[3] is None else bool(row[3]),
                deprecated=bool(row[4]),
                see_also=tuple(json.loads(row[5])),
            )
            for row in self._db.execute(
                "SELECT spdx_id, name, osi_approved, fsf_libre, deprecated, see_also FROM licenses"
            )
        ]
        out += [
            LicenseRecord(
                spdx_id=row[0],
                name=row[1],
                deprecated=bool(row[2]),
                see_also=tuple(json.loads(row[3])),
                is_exception=True,
            )
            for row in self._db.execute(
                "SELECT spdx_id, name, deprecated, see_also FROM license_exceptions"
            )
        ]
        return out

    # -- classification ---------------------------------------------------------------------

    @reading
    def license_inputs(
        self: _Store,
        ecosystem: Ecosystem,
        *,
        after: str = "",
        limit: int = 1000,
        since: str | None = None,
    ) -> list[PackageLicenseInput]:
        extra, args = ("AND moment >= ?", [since]) if since else ("", [])
        rows = self._db.execute(
            _PAGE_SQL.format(extra=extra),
            [ecosystem.value, EXTRACTED, after, *args, limit],
        ).fetchall()
        return _with_versions(self._db, rows)

    @reading
    def license_inputs_of(
        self: _Store, ecosystem: Ecosystem, names: Iterable[str]
    ) -> list[PackageLicenseInput]:
        out: list[PackageLicenseInput] = []
        for chunk in chunks(sorted({ecosystem.purl(n) for n in names})):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"""SELECT purl, name, licenses, license_digest, license_list_version, oss_status
                    FROM packages WHERE purl IN ({marks}) AND status = ? ORDER BY purl""",
                [*chunk, EXTRACTED],
            ).fetchall()
            out.extend(_with_versions(self._db, rows))
        return out

    def write_classifications(
        self: _Store,
        ecosystem: Ecosystem,
        results: Sequence[Classification],
        list_version: str,
    ) -> None:
        if not results:
            return
        at = now_iso()
        packages = []
        versions = []
        for result in results:
            fields = verdict_fields(result.verdict, list_version, at)
            packages.append((*_values(fields), result.digest, result.purl))
            for vpurl, verdict in result.versions:
                versions.append((*_values(verdict_fields(verdict, list_version, at)), vpurl))
        sets = ", ".join(f"{name} = ?" for name in LICENSE_FIELDS)
        with self._transaction() as db:
            db.executemany(
                f"UPDATE packages SET {sets}, license_digest = ? WHERE purl = ?", packages
            )
            db.executemany(f"UPDATE versions SET {sets} WHERE purl = ?", versions)

    @reading
    def oss_status_counts(self: _Store) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for row in self._db.execute(
            """SELECT ecosystem, coalesce(oss_status, ?), count(*) FROM packages
               WHERE status = ? GROUP BY 1, 2""",
            (UNCLASSIFIED, EXTRACTED),
        ):
            out.setdefault(row[0], {})[row[1]] = int(row[2])
        return out


def _values(fields: dict[str, Any]) -> tuple[Any, ...]:
    ids = fields["license_ids"]
    return tuple(
        (dumps(ids) if ids is not None else None) if name == "license_ids" else fields[name]
        for name in LICENSE_FIELDS
    )


def _with_versions(db: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[PackageLicenseInput]:
    packages = {
        row[0]: PackageLicenseInput(
            purl=row[0],
            name=row[1],
            licenses=row[2],
            versions=[],
            digest=row[3],
            list_version=row[4],
            oss_status=row[5],
        )
        for row in rows
    }
    for chunk in chunks(list(packages)):
        marks = ",".join("?" * len(chunk))
        for vrow in db.execute(
            f"""SELECT package_purl, purl, name, serial_number, yanked, licenses, oss_status
                FROM versions WHERE package_purl IN ({marks})""",
            chunk,
        ):
            packages[vrow[0]].versions.append(
                VersionLicenseInput(
                    purl=vrow[1],
                    name=vrow[2],
                    serial_number=int(vrow[3]),
                    yanked=bool(vrow[4]),
                    licenses=vrow[5],
                    oss_status=vrow[6],
                )
            )
    return list(packages.values())
