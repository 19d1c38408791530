"""The local table of the Maven index: distinct (g:a, version, lastModified) rows in SQLite.

Central's full chunk holds tens of millions of records; collapsing them in a Python set costs
hundreds of megabytes (benchmarks/bench_maven_index.py). Rows go to a temporary table and one
on-disk GROUP BY collapses classifier/extension variants, so memory stays flat; the same table
answers release dates and the full-reload diff, and incremental chunks are applied to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssc_cli.registries.maven.indexer import (
    IndexProperties,
    Readable,
    artifact_events,
    iter_records,
    open_chunk,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gav (
    ga TEXT NOT NULL, v TEXT NOT NULL, m INTEGER, PRIMARY KEY (ga, v)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_GAP_SCHEMA = """
CREATE TABLE IF NOT EXISTS gap (
    ga TEXT NOT NULL, v TEXT NOT NULL, misses INTEGER NOT NULL, filled INTEGER NOT NULL,
    PRIMARY KEY (ga, v)
) WITHOUT ROWID;
"""
_UPSERT = """INSERT INTO gav (ga, v, m) VALUES (?, ?, ?) ON CONFLICT (ga, v) DO UPDATE SET
    m = CASE WHEN gav.m IS NULL THEN excluded.m WHEN excluded.m IS NULL THEN gav.m
             ELSE min(gav.m, excluded.m) END"""


@dataclass(slots=True)
class BuildStats:
    records: int = 0
    versions: int = 0
    names: int = 0


class LocalIndex:
    """Distinct (g:a, version) pairs of the published index with their lastModified, on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._reader: sqlite3.Connection | None = None

    def exists(self) -> bool:
        return self.path.is_file()

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def build(self, chunk: Path, properties: IndexProperties | None) -> BuildStats:
        """Replace the table with the content of a full chunk (atomically, via a temp file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.build-{os.getpid()}")
        tmp.unlink(missing_ok=True)
        stats = BuildStats()
        db = sqlite3.connect(tmp)
        try:
            db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
            db.execute("CREATE TEMP TABLE rec (ga TEXT, v TEXT, m INTEGER)")
            with open_chunk(chunk) as raw:
                stats.records = self._load_rows(db, raw, str(chunk))
            # One sort on disk collapses classifier/extension variants to a version.
            db.execute(
                "INSERT INTO gav (ga, v, m) SELECT ga, v, min(m) FROM rec GROUP BY ga, v ORDER BY ga, v"
            )
            db.execute("DROP TABLE rec")
            stats.versions = db.execute("SELECT count(*) FROM gav").fetchone()[0]
            stats.names = db.execute("SELECT count(DISTINCT ga) FROM gav").fetchone()[0]
            self._set_meta(db, properties)
            db.commit()
        finally:
            db.close()
        self.close()
        os.replace(tmp, self.path)
        return stats

    @staticmethod
    def _load_rows(db: sqlite3.Connection, raw: Readable, where: str) -> int:
        batch: list[tuple[str, str, int | None]] = []
        records = 0
        previous: tuple[str, str] | None = None
        previous_m: int | None = None
        for event in artifact_events(iter_records(raw, where)):
            records += 1
            if event.removed:
                continue
            key = (event.name, event.version)
            if key == previous:  # variants of one version are adjacent: fold them here
                if event.modified_ms is not None and (
                    previous_m is None or event.modified_ms < previous_m
                ):
                    previous_m = event.modified_ms
                continue
            if previous is not None:
                batch.append((previous[0], previous[1], previous_m))
            previous, previous_m = key, event.modified_ms
            if len(batch) >= 20_000:
                db.executemany("INSERT INTO rec VALUES (?, ?, ?)", batch)
                batch.clear()
        if previous is not None:
            batch.append((previous[0], previous[1], previous_m))
        db.executemany("INSERT INTO rec VALUES (?, ?, ?)", batch)
        return records

    def apply(self, chunk: Path) -> set[str]:
        """Apply an incremental chunk in place, in record order; returns every g:a it touched.

        The stored properties are left alone: only `record` (after a whole plan) moves them, so
        a plan that fails halfway never claims the table is current.
        """
        touched: set[str] = set()
        db = self._connect()
        try:
            with db, open_chunk(chunk) as raw:
                adds: list[tuple[str, str, int | None]] = []
                for event in artifact_events(iter_records(raw, str(chunk))):
                    touched.add(event.name)
                    if not event.removed:
                        adds.append((event.name, event.version, event.modified_ms))
                    elif event.classifier is None:
                        # Earlier adds go first: a version added then removed in one chunk
                        # must end removed, and one removed then re-added must end present.
                        db.executemany(_UPSERT, adds)
                        adds.clear()
                        db.execute(
                            "DELETE FROM gav WHERE ga = ? AND v = ?", (event.name, event.version)
                        )
                db.executemany(_UPSERT, adds)
        finally:
            db.close()
        return touched

    def record(self, properties: IndexProperties | None) -> None:
        """Note the index state the table now holds (None: unknown, never skip a reload)."""
        db = self._connect()
        try:
            with db:
                if properties is None:
                    db.execute("DELETE FROM meta WHERE key = 'properties'")
                else:
                    self._set_meta(db, properties)
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=60)
        db.executescript(_SCHEMA)
        return db

    @staticmethod
    def _set_meta(db: sqlite3.Connection, properties: IndexProperties | None) -> None:
        if properties is not None:
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('properties', ?)",
                (json.dumps(properties.cursor(), sort_keys=True),),
            )

    def meta(self) -> dict[str, Any] | None:
        if not self.exists():
            return None
        row = self._query("SELECT value FROM meta WHERE key = 'properties'", ())
        return json.loads(row[0][0]) if row else None

    def names(self) -> Iterator[str]:
        """Every distinct g:a, in order, streamed from disk."""
        if not self.exists():
            return
        db = sqlite3.connect(self.path)
        try:
            yield from (row[0] for row in db.execute("SELECT DISTINCT ga FROM gav ORDER BY ga"))
        finally:
            db.close()

    def versions(self, name: str) -> dict[str, int | None]:
        """version -> lastModified (ms) of one g:a; empty when the index does not list it."""
        if not self.exists():
            return {}
        return dict(self._query("SELECT v, m FROM gav WHERE ga = ?", (name,)))

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            if self._reader is None:
                self._reader = sqlite3.connect(self.path, check_same_thread=False, timeout=60)
            with contextlib.suppress(sqlite3.OperationalError):
                return self._reader.execute(sql, args).fetchall()
            # The file was replaced under us (a rebuild): reopen once.
            self._reader.close()
            self._reader = sqlite3.connect(self.path, check_same_thread=False, timeout=60)
            return self._reader.execute(sql, args).fetchall()


class PomGaps:
    """Versions stored without dependencies because their POM answered 404, kept between runs.

    A POM can appear after the metadata that lists its version (mirror lag), so an update
    refetches the packages with open gaps, a few times. A filled gap stays listed: every later
    fetch rewrites that version's edges, so a run killed between the POM download and the graph
    write cannot leave the version without them for good.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=60)
            self._db.executescript(_GAP_SCHEMA)
        return self._db

    def missing(self, name: str, versions: Iterable[str]) -> None:
        """These versions of name have no POM (again): their dependencies are unknown."""
        rows = [(name, v) for v in versions]
        if not rows:
            return
        with self._lock, self._connection() as db:
            db.executemany(
                """INSERT INTO gap (ga, v, misses, filled) VALUES (?, ?, 1, 0)
                   ON CONFLICT (ga, v) DO UPDATE SET misses = gap.misses + 1, filled = 0""",
                rows,
            )

    def filled(self, name: str, versions: Iterable[str]) -> None:
        """These gaps of name got their POM: no more refetching for them."""
        rows = [(name, v) for v in versions]
        if not rows:
            return
        with self._lock, self._connection() as db:
            db.executemany("UPDATE gap SET filled = 1 WHERE ga = ? AND v = ?", rows)

    def versions(self, name: str) -> set[str]:
        """Every version of name that ever lacked its POM (filled or not)."""
        if self._db is None and not self.path.is_file():
            return set()  # the common case: no gap was ever recorded, no file to open
        with self._lock:
            rows = self._connection().execute("SELECT v FROM gap WHERE ga = ?", (name,))
            return {row[0] for row in rows}

    def open_names(self, max_misses: int) -> list[str]:
        """g:a with a gap still open that was missed fewer than max_misses times."""
        if self._db is None and not self.path.is_file():
            return []
        with self._lock:
            rows = self._connection().execute(
                "SELECT DISTINCT ga FROM gap WHERE filled = 0 AND misses < ? ORDER BY ga",
                (max_misses,),
            )
            return [row[0] for row in rows]
