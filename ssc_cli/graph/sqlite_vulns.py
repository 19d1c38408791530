"""SQLite side of vulnerability attribution: the column migration, batched reads and writes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from ssc_cli.graph.interface import VersionVulnRow, dumps
from ssc_cli.graph.sqlite_reads import chunks, reading
from ssc_cli.models import Ecosystem

# Added after the first graphs were written: an old file gains it on open (NULL = never
# attributed, which is the truth for what an older ssc wrote).
_COLUMNS = {"unscored_vulnerabilities": "INTEGER"}
_INDEX = (
    "CREATE INDEX IF NOT EXISTS versions_unattributed ON versions (package_purl) "
    "WHERE unscored_vulnerabilities IS NULL"
)


def missing_vuln_columns(db: sqlite3.Connection) -> list[str]:
    """The attribution columns this graph's versions table lacks (an older ssc wrote it)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(versions)")}
    return [column for column in _COLUMNS if column not in have]


def migrate_vulns(db: sqlite3.Connection) -> None:
    """Idempotent: add the attribution columns an older graph lacks, and their index."""
    for column in missing_vuln_columns(db):
        db.execute(f"ALTER TABLE versions ADD COLUMN {column} {_COLUMNS[column]}")
    db.execute(_INDEX)


def _prefix_bounds(ecosystem: Ecosystem) -> tuple[str, str]:
    """purl range of an ecosystem's rows: a range scan of the purl index, no join."""
    prefix = f"pkg:{ecosystem.purl_type}/"
    return prefix, prefix[:-1] + chr(ord("/") + 1)


class _Store(Protocol):
    path: Path
    _db: sqlite3.Connection

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...


class SqliteVulns:
    """The attribution methods of SqliteStore (mixed in; it provides _db and _transaction)."""

    @reading
    def vuln_rows(
        self: _Store, ecosystem: Ecosystem, names: Sequence[str]
    ) -> dict[str, list[VersionVulnRow]]:
        by_purl = {ecosystem.purl(name): name for name in names}
        out: dict[str, list[VersionVulnRow]] = {}
        for chunk in chunks(list(by_purl)):
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(
                f"""SELECT package_purl, purl, name, vulnerabilities, mean, weighted_mean,
                        unscored_vulnerabilities FROM versions WHERE package_purl IN ({marks})""",
                chunk,
            ):
                out.setdefault(by_purl[row[0]], []).append(
                    VersionVulnRow(
                        row[1], row[2], tuple(json.loads(row[3])), row[4], row[5], row[6]
                    )
                )
        return out

    def write_vulns(self: _Store, rows: Sequence[VersionVulnRow]) -> int:
        if not rows:
            return 0
        with self._transaction() as db:
            db.executemany(
                """UPDATE versions SET vulnerabilities = ?, mean = ?, weighted_mean = ?,
                       unscored_vulnerabilities = ? WHERE purl = ?""",
                [
                    (dumps(list(r.vulnerabilities)), r.mean, r.weighted_mean, r.unscored, r.purl)
                    for r in rows
                ],
            )
        return len(rows)

    @reading
    def unattributed_packages(self: _Store, ecosystem: Ecosystem) -> list[str]:
        low, high = _prefix_bounds(ecosystem)
        cur = self._db.execute(
            """SELECT DISTINCT p.name FROM versions v JOIN packages p ON p.purl = v.package_purl
               WHERE v.unscored_vulnerabilities IS NULL AND v.package_purl >= ?
               AND v.package_purl < ? ORDER BY p.name""",
            (low, high),
        )
        return [row[0] for row in cur]

    @reading
    def unattributed_versions(self: _Store, ecosystem: Ecosystem) -> int:
        low, high = _prefix_bounds(ecosystem)
        row = self._db.execute(
            """SELECT count(*) FROM versions WHERE unscored_vulnerabilities IS NULL
               AND package_purl >= ? AND package_purl < ?""",
            (low, high),
        ).fetchone()
        return int(row[0])
