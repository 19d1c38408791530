"""SQLite side of licences: the SPDX list tables, the classification columns and their migration."""

from __future__ import annotations

import functools
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
    Verdict,
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
-- Verdicts beside the package and version rows, keyed and clustered by purl: a classification
-- rewrites these narrow rows in purl order instead of every wide package row (5x faster at
-- 500,000 packages, docs/benchmarks.md), and graphs of older ssc versions need no new columns.
CREATE TABLE IF NOT EXISTS package_licenses (
    purl TEXT PRIMARY KEY,
    license_expression TEXT,
    license_raw TEXT,
    oss_status TEXT NOT NULL CHECK (oss_status IN ('open_source', 'proprietary', 'unknown')),
    oss_reason TEXT NOT NULL,
    license_ids TEXT NOT NULL DEFAULT '[]',
    license_list_version TEXT NOT NULL,
    classified_at TEXT NOT NULL,
    license_digest TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS version_licenses (
    purl TEXT PRIMARY KEY,
    license_expression TEXT,
    license_raw TEXT,
    oss_status TEXT NOT NULL CHECK (oss_status IN ('open_source', 'proprietary', 'unknown')),
    oss_reason TEXT NOT NULL,
    license_ids TEXT NOT NULL DEFAULT '[]',
    license_list_version TEXT NOT NULL,
    classified_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS packages_moment ON packages (ecosystem, moment, purl);
"""
# What export / show join to package and version rows (aliases l_*, read by license_row).
_SELECT = ", ".join(f"l.{name} AS l_{name}" for name in LICENSE_FIELDS)
PACKAGE_LICENSES = f"{_SELECT} FROM packages p LEFT JOIN package_licenses l ON l.purl = p.purl"
VERSION_LICENSES = f"{_SELECT} FROM versions v LEFT JOIN version_licenses l ON l.purl = v.purl"

# A range of the primary key (every purl of an ecosystem starts with pkg:<type>/), so a page
# costs its own rows; `+` keeps the planner off the (ecosystem, status) index, whose rows it
# would have to sort for every page.
_PAGE_SQL = """SELECT purl, name, licenses FROM packages
    WHERE purl > ? AND purl < ? AND +ecosystem = ? AND +status = ?
    ORDER BY purl LIMIT ?"""
# A page is a contiguous purl range: its verdicts and versions are read as ranges too (one
# scan each) rather than one probe per package or version.
_RANGE_VERDICTS = """SELECT purl, license_digest, license_list_version, oss_status
    FROM package_licenses WHERE purl >= ? AND purl <= ?"""
_RANGE_VERSIONS = """SELECT package_purl, purl, name, serial_number, yanked, licenses
    FROM versions WHERE package_purl >= ? AND package_purl <= ?"""
_RANGE_VERSION_VERDICTS = (
    "SELECT purl, oss_status FROM version_licenses WHERE purl > ? AND purl < ?"
)
# Packages written since a time, in (moment, purl) order on their own index: an update's hook
# reads what the update wrote, not the whole ecosystem. The first page starts after
# (since, ""), i.e. at moment >= since.
_SINCE_SQL = """SELECT p.purl, p.name, p.licenses, l.license_digest, l.license_list_version,
    l.oss_status, p.moment FROM packages p LEFT JOIN package_licenses l ON l.purl = p.purl
    WHERE p.ecosystem = ? AND (p.moment, p.purl) > (?, ?) AND +p.status = ?
    ORDER BY p.moment, p.purl LIMIT ?"""
_OF_SQL = """SELECT p.purl, p.name, p.licenses, l.license_digest, l.license_list_version,
    l.oss_status FROM packages p LEFT JOIN package_licenses l ON l.purl = p.purl
    WHERE p.purl IN ({marks}) AND p.status = ? ORDER BY p.purl"""
_VERSIONS_SQL = """SELECT v.package_purl, v.purl, v.name, v.serial_number, v.yanked, v.licenses,
    l.oss_status FROM versions v LEFT JOIN version_licenses l ON l.purl = v.purl
    WHERE v.package_purl IN ({marks})"""
_CURSOR_SEP = "\x1f"
_COLUMNS = ", ".join(LICENSE_FIELDS)
_SETS = ", ".join(f"{name} = excluded.{name}" for name in LICENSE_FIELDS)
UPSERT_PACKAGES = (
    f"INSERT INTO package_licenses (purl, {_COLUMNS}, license_digest) "
    f"VALUES ({', '.join('?' * (len(LICENSE_FIELDS) + 2))}) "
    f"ON CONFLICT (purl) DO UPDATE SET {_SETS}, license_digest = excluded.license_digest"
)
UPSERT_VERSIONS = (
    f"INSERT INTO version_licenses (purl, {_COLUMNS}) "
    f"VALUES ({', '.join('?' * (len(LICENSE_FIELDS) + 1))}) "
    f"ON CONFLICT (purl) DO UPDATE SET {_SETS}"
)


def migrate_licenses(db: sqlite3.Connection) -> None:
    """The licence tables and indexes (idempotent: a graph of an older ssc gains them)."""
    db.executescript(LICENSE_SCHEMA)


class _Store(Protocol):
    path: Path
    _db: sqlite3.Connection

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...


def license_row(row: sqlite3.Row) -> dict[str, Any]:
    """The licence fields joined to a package or version row (l_* aliases), ids as a list."""
    data = {name: row[f"l_{name}"] for name in LICENSE_FIELDS}
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
        if since is not None:
            moment, _, purl = after.partition(_CURSOR_SEP) if after else (since, "", "")
            rows = self._db.execute(
                _SINCE_SQL, [ecosystem.value, moment, purl, EXTRACTED, limit]
            ).fetchall()
            page = _with_versions(self._db, rows)
            for item, row in zip(page, rows, strict=True):
                item.cursor = f"{row[6]}{_CURSOR_SEP}{row[0]}"
            return page
        prefix = f"pkg:{ecosystem.purl_type}/"
        rows = self._db.execute(
            _PAGE_SQL, [max(after, prefix), prefix[:-1] + "0", ecosystem.value, EXTRACTED, limit]
        ).fetchall()
        return _range_page(self._db, rows)

    @reading
    def license_inputs_of(
        self: _Store, ecosystem: Ecosystem, names: Iterable[str]
    ) -> list[PackageLicenseInput]:
        out: list[PackageLicenseInput] = []
        for chunk in chunks(sorted({ecosystem.purl(n) for n in names})):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(_OF_SQL.format(marks=marks), [*chunk, EXTRACTED]).fetchall()
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
        values: dict[Verdict | None, tuple[Any, ...]] = {}  # verdicts repeat: build each once
        packages: list[tuple[Any, ...]] = []
        versions: list[tuple[Any, ...]] = []
        cleared: list[tuple[str]] = []  # versions that share their package's verdict again
        for result in results:
            row = values.get(result.verdict)
            if row is None:
                row = values[result.verdict] = _values(
                    verdict_fields(result.verdict, list_version, at)
                )
            packages.append((result.purl, *row, result.digest))
            for vpurl, verdict in result.versions:
                if verdict is None:
                    cleared.append((vpurl,))
                    continue
                vrow = values.get(verdict)
                if vrow is None:
                    vrow = values[verdict] = _values(verdict_fields(verdict, list_version, at))
                versions.append((vpurl, *vrow))
        packages.sort()  # in key order: the rows land page after page
        with self._transaction() as db:
            db.executemany(UPSERT_PACKAGES, packages)
            db.executemany(UPSERT_VERSIONS, versions)
            db.executemany("DELETE FROM version_licenses WHERE purl = ?", cleared)

    @reading
    def oss_status_counts(self: _Store) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for row in self._db.execute(
            """SELECT p.ecosystem, coalesce(l.oss_status, ?), count(*) FROM packages p
               LEFT JOIN package_licenses l ON l.purl = p.purl
               WHERE p.status = ? GROUP BY 1, 2""",
            (UNCLASSIFIED, EXTRACTED),
        ):
            out.setdefault(row[0], {})[row[1]] = int(row[2])
        return out


def _values(fields: dict[str, Any]) -> tuple[Any, ...]:
    ids = fields["license_ids"]
    return tuple(
        (_ids_text(tuple(ids)) if ids is not None else None)
        if name == "license_ids"
        else fields[name]
        for name in LICENSE_FIELDS
    )


@functools.lru_cache(maxsize=4096)
def _ids_text(ids: tuple[str, ...]) -> str:
    return dumps(list(ids))


def _range_page(db: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[PackageLicenseInput]:
    """Inputs of a page of packages that is a contiguous purl range, in purl order."""
    if not rows:
        return []
    first, last = rows[0][0], rows[-1][0]
    verdicts = {r[0]: r for r in db.execute(_RANGE_VERDICTS, (first, last))}
    packages: dict[str, PackageLicenseInput] = {}
    for row in rows:
        verdict = verdicts.get(row[0])
        packages[row[0]] = PackageLicenseInput(
            purl=row[0],
            name=row[1],
            licenses=row[2],
            versions=[],
            digest=verdict[1] if verdict else None,
            list_version=verdict[2] if verdict else None,
            oss_status=verdict[3] if verdict else None,
        )
    # Version purls are the package purl plus "@<version>": between first@ and last@<max>.
    own = dict(db.execute(_RANGE_VERSION_VERDICTS, (f"{first}@", f"{last}@\U0010ffff")).fetchall())
    for vrow in db.execute(_RANGE_VERSIONS, (first, last)):
        package = packages.get(vrow[0])
        if package is None:  # a package of the range that is not extracted
            continue
        package.versions.append(
            VersionLicenseInput(
                purl=vrow[1],
                name=vrow[2],
                serial_number=int(vrow[3]),
                yanked=bool(vrow[4]),
                licenses=vrow[5],
                oss_status=own.get(vrow[1]),
            )
        )
    return list(packages.values())


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
        for vrow in db.execute(_VERSIONS_SQL.format(marks=marks), chunk):
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
