"""SQLite side of the quality checks: counts over index ranges, run history, check results."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from ssc_cli.graph.interface import EXTRACTED, MISSING, PENDING
from ssc_cli.graph.sqlite_reads import reading
from ssc_cli.models import Ecosystem

QUALITY_SCHEMA = """
CREATE TABLE IF NOT EXISTS check_results (
    dataset TEXT NOT NULL,
    name TEXT NOT NULL,
    severity TEXT NOT NULL,
    blocking INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    measured REAL,
    threshold REAL,
    message TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    run_id INTEGER,
    PRIMARY KEY (dataset, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS runs_job ON runs (job, ecosystem, id);
"""

# Package names that normalise to one name (Ecosystem.normalize_name) are twins: this is that
# normalisation in SQL, for the ecosystems whose names fold. PEP 503 folds runs of -_. into one
# `-`; replacing each is enough to find twins (equal here implies equal under PEP 503).
_NAME_KEY = {
    Ecosystem.PYPI: "lower(replace(replace(name, '_', '-'), '.', '-'))",
    Ecosystem.NUGET: "lower(name)",
    Ecosystem.CARGO: "lower(name)",
    Ecosystem.RUBYGEMS: "lower(name)",
}


def purl_range(ecosystem: Ecosystem) -> tuple[str, str]:
    """[low, high) of every purl of the ecosystem: `pkg:<type>/` up to `pkg:<type>0`."""
    prefix = f"pkg:{ecosystem.purl_type}/"
    return prefix, prefix[:-1] + "0"  # "0" sorts right after "/"


class _Store(Protocol):
    path: Path
    _db: sqlite3.Connection

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...


def _one(db: sqlite3.Connection, sql: str, *args: Any) -> int:
    row = db.execute(sql, args).fetchone()
    return int(row[0] or 0)


class SqliteQuality:
    """The quality methods of SqliteStore (mixed in; it provides _db and _transaction)."""

    @reading
    def graph_counts(self: _Store, ecosystem: Ecosystem) -> dict[str, int]:
        low, high = purl_range(ecosystem)
        db, eco = self._db, ecosystem.value
        by_status = {
            status: _one(
                db, "SELECT count(*) FROM packages WHERE ecosystem = ? AND status = ?", eco, status
            )
            for status in (EXTRACTED, PENDING, MISSING)
        }
        return {
            "packages": by_status[EXTRACTED],
            "pending": by_status[PENDING],
            "missing": by_status[MISSING],
            # Range scans of the purl indexes: no table rows are read.
            "versions": _one(
                db, "SELECT count(*) FROM versions WHERE purl >= ? AND purl < ?", low, high
            ),
            "edges": _one(
                db,
                "SELECT count(*) FROM requires WHERE from_purl >= ? AND from_purl < ?",
                low,
                high,
            ),
        }

    @reading
    def orphan_versions(self: _Store, ecosystem: Ecosystem) -> int:
        low, high = purl_range(ecosystem)
        return _one(
            self._db,
            """SELECT count(*) FROM versions v WHERE v.purl >= ? AND v.purl < ?
               AND NOT EXISTS (SELECT 1 FROM packages p WHERE p.purl = v.package_purl)""",
            low,
            high,
        )

    @reading
    def dangling_edges(self: _Store, ecosystem: Ecosystem) -> int:
        low, high = purl_range(ecosystem)
        return _one(
            self._db,
            """SELECT count(*) FROM requires r WHERE r.from_purl >= ? AND r.from_purl < ?
               AND (NOT EXISTS (SELECT 1 FROM packages p WHERE p.purl = r.to_purl)
                    OR NOT EXISTS (SELECT 1 FROM versions v WHERE v.purl = r.from_purl))""",
            low,
            high,
        )

    @reading
    def duplicate_purls(self: _Store, ecosystem: Ecosystem) -> int:
        # purls themselves are primary / unique keys here: only name twins can exist.
        key = _NAME_KEY.get(ecosystem)
        if key is None:
            return 0
        return _one(
            self._db,
            f"""SELECT count(*) FROM (SELECT {key} AS k FROM packages WHERE ecosystem = ?
                GROUP BY k HAVING count(*) > 1)""",
            ecosystem.value,
        )

    @reading
    def recent_runs(
        self: _Store, jobs: Sequence[str], ecosystem: Ecosystem | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        if not jobs:
            return []
        marks = ",".join("?" * len(jobs))
        where = f"job IN ({marks})"
        args: list[Any] = list(jobs)
        if ecosystem is not None:
            where += " AND (ecosystem = ? OR ecosystem IS NULL)"
            args.append(ecosystem.value)
        cur = self._db.execute(
            f"SELECT * FROM runs WHERE {where} ORDER BY id DESC LIMIT ?", [*args, limit]
        )
        return [dict(row) for row in cur]

    @reading
    def run_datasets(self: _Store) -> list[tuple[str, str | None]]:
        cur = self._db.execute("SELECT DISTINCT job, ecosystem FROM runs ORDER BY job, ecosystem")
        return [(row[0], row[1]) for row in cur]

    def save_check_results(self: _Store, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        with self._transaction() as db:
            db.executemany(
                """INSERT INTO check_results (dataset, name, severity, blocking, passed, measured,
                       threshold, message, checked_at, run_id)
                   VALUES (:dataset, :name, :severity, :blocking, :passed, :measured,
                       :threshold, :message, :checked_at, :run_id)
                   ON CONFLICT (dataset, name) DO UPDATE SET severity=excluded.severity,
                       blocking=excluded.blocking, passed=excluded.passed,
                       measured=excluded.measured, threshold=excluded.threshold,
                       message=excluded.message, checked_at=excluded.checked_at,
                       run_id=excluded.run_id""",
                [_check_row(row) for row in rows],
            )

    @reading
    def check_results(self: _Store, datasets: Sequence[str] | None = None) -> list[dict[str, Any]]:
        if datasets is None:
            cur = self._db.execute("SELECT * FROM check_results ORDER BY dataset, name")
        else:
            marks = ",".join("?" * len(datasets))
            cur = self._db.execute(
                f"SELECT * FROM check_results WHERE dataset IN ({marks}) ORDER BY dataset, name",
                list(datasets),
            )
        return [dict(row) for row in cur]


def _check_row(row: Mapping[str, Any]) -> dict[str, Any]:
    data = {k: row.get(k) for k in _CHECK_FIELDS}
    for flag in ("blocking", "passed"):
        data[flag] = int(bool(data[flag]))
    return data


_CHECK_FIELDS = (
    "dataset",
    "name",
    "severity",
    "blocking",
    "passed",
    "measured",
    "threshold",
    "message",
    "checked_at",
    "run_id",
)
