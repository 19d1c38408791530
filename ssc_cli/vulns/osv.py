"""The embedded vulnerability source: OSV records in a SQLite file of the data dir.

Separate from the graph (it is a copy of a public database, rebuilt at will). Records are kept
whole (zlib-compressed JSON) and indexed by (ecosystem, normalised package name) of every
affected entry; a change log (one row per package a changed record names, before and after
the change) is what `ssc vulns attribute` reads to re-attribute only those packages.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssc_cli.localdb import open_wal, write_transaction
from ssc_cli.models import Ecosystem
from ssc_cli.vulns.ecosystems import from_osv, rules
from ssc_cli.vulns.interface import (
    Advisory,
    Changes,
    EcosystemStats,
    SourceInfo,
    VulnSourceUnavailable,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    modified TEXT NOT NULL,
    withdrawn INTEGER NOT NULL DEFAULT 0,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS record_packages (
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (ecosystem, name, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS record_packages_id ON record_packages (id);
CREATE TABLE IF NOT EXISTS aliases (
    alias TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (alias, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS aliases_id ON aliases (id);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_cursors (
    folder TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Loaded:
    """A validated record ready to store, with the raw object it came from."""

    advisory: Advisory
    raw: Mapping[str, Any]


@dataclass(slots=True)
class UpsertResult:
    loaded: list[Advisory] = field(default_factory=list)
    skipped: int = 0  # not newer than the stored copy
    packages_changed: set[tuple[str, str]] = field(default_factory=set)


def record_packages(advisory: Advisory) -> set[tuple[Ecosystem, str]]:
    """(ecosystem, match name) of every affected entry of an ssc ecosystem."""
    out = set()
    for entry in advisory.affected:
        if entry.package is None:
            continue
        eco = from_osv(entry.package.ecosystem)
        if eco is not None:
            out.add((eco, rules(eco).match_name(entry.package.name)))
    return out


class OsvStore:
    """VulnerabilitySource over the embedded SQLite copy of OSV."""

    kind = "osv"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.target = str(path)
        self.invalid: list[str] = []  # validated at sync: none here
        self.rejected_vectors: list[dict[str, str]] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = open_wal(path, check_same_thread=False)  # zips are read off the loop
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'instance'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('instance', ?)",
                    (uuid.uuid4().hex,),
                )
                row = self._db.execute("SELECT value FROM meta WHERE key = 'instance'").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise VulnSourceUnavailable(
                f"cannot open the OSV store {path}: {exc}; check SSC_OSV_DB / SSC_DATA_DIR"
            ) from exc
        self.instance = str(row[0])

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(
            self._db,
            lambda _stage, exc: VulnSourceUnavailable(
                f"write to the OSV store {self.path} failed: {exc}"
            ),
        )

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._db
        except sqlite3.Error as exc:
            raise VulnSourceUnavailable(f"cannot read the OSV store {self.path}: {exc}") from exc

    # -- writes ---------------------------------------------------------------------------

    def upsert(self, batch: Sequence[Loaded]) -> UpsertResult:
        """Store the records newer than the stored copies, in one transaction."""
        result = UpsertResult()
        if not batch:
            return result
        latest: dict[str, Loaded] = {}
        for item in batch:  # the same id twice in one batch: the later modified wins
            held = latest.get(item.advisory.id)
            if held is None or item.advisory.modified > held.advisory.modified:
                latest[item.advisory.id] = item
        result.skipped = len(batch) - len(latest)
        with self._transaction() as db:
            stored = self._modified(db, list(latest))
            fresh = []
            for ident, item in latest.items():
                have = stored.get(ident)
                if have is not None and item.advisory.modified_text <= have:
                    result.skipped += 1
                else:
                    fresh.append(item)
            old_names = self._names_of(db, [item.advisory.id for item in fresh])
            rows: list[tuple[str, str, int, bytes]] = []
            names: list[tuple[str, str, str]] = []
            aliases: list[tuple[str, str]] = []
            changes: list[tuple[str, str]] = []
            for item in fresh:
                advisory = item.advisory
                blob = zlib.compress(json.dumps(item.raw, separators=(",", ":")).encode(), 6)
                rows.append(
                    (advisory.id, advisory.modified_text, int(advisory.withdrawn is not None), blob)
                )
                new = {(eco.value, name) for eco, name in record_packages(advisory)}
                names.extend((eco, name, advisory.id) for eco, name in new)
                aliases.extend((alias, advisory.id) for alias in set(advisory.aliases))
                touched = new | old_names.get(advisory.id, set())
                changes.extend(sorted(touched))
                result.packages_changed |= touched
                result.loaded.append(advisory)
            ids = [(item.advisory.id,) for item in fresh]
            db.executemany("DELETE FROM record_packages WHERE id = ?", ids)
            db.executemany("DELETE FROM aliases WHERE id = ?", ids)
            db.executemany(
                "INSERT OR REPLACE INTO records (id, modified, withdrawn, data) VALUES (?,?,?,?)",
                rows,
            )
            db.executemany("INSERT OR IGNORE INTO record_packages VALUES (?,?,?)", names)
            db.executemany("INSERT OR IGNORE INTO aliases VALUES (?,?)", aliases)
            db.executemany("INSERT INTO changes (ecosystem, name) VALUES (?,?)", changes)
        return result

    def _modified(self, db: sqlite3.Connection, ids: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            out.update(
                db.execute(
                    f"SELECT id, modified FROM records WHERE id IN ({marks})", chunk
                ).fetchall()
            )
        return out

    def _names_of(self, db: sqlite3.Connection, ids: list[str]) -> dict[str, set[tuple[str, str]]]:
        out: dict[str, set[tuple[str, str]]] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for eco, name, ident in db.execute(
                f"SELECT ecosystem, name, id FROM record_packages WHERE id IN ({marks})", chunk
            ):
                out.setdefault(ident, set()).add((eco, name))
        return out

    def sync_cursor(self, folder: str) -> dict[str, Any] | None:
        with self._reading() as db:
            row = db.execute(
                "SELECT value FROM sync_cursors WHERE folder = ?", (folder,)
            ).fetchone()
        return dict(json.loads(row[0])) if row else None

    def set_sync_cursor(self, folder: str, value: Mapping[str, Any]) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO sync_cursors (folder, value) VALUES (?,?)",
                (folder, json.dumps(dict(value), sort_keys=True)),
            )

    # -- reads (VulnerabilitySource) ------------------------------------------------------

    def advisories(self, ecosystem: Ecosystem, names: Sequence[str]) -> dict[str, list[Advisory]]:
        match_name = rules(ecosystem).match_name
        by_key: dict[str, list[str]] = {}
        for name in names:
            by_key.setdefault(match_name(name), []).append(name)
        keys = list(by_key)
        out: dict[str, list[Advisory]] = {}
        with self._reading() as db:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"""SELECT rp.name, r.data FROM record_packages rp JOIN records r ON r.id = rp.id
                        WHERE rp.ecosystem = ? AND rp.name IN ({marks})""",
                    [ecosystem.value, *chunk],
                ).fetchall()
                for key, blob in rows:
                    advisory = _decode(blob)
                    for name in by_key[key]:
                        out.setdefault(name, []).append(advisory)
        return out

    def get(self, advisory_id: str) -> Advisory | None:
        raw = self.raw(advisory_id)
        return None if raw is None else Advisory.model_validate(raw)

    def raw(self, advisory_id: str) -> dict[str, Any] | None:
        """The stored record as published (by id, else by an alias)."""
        with self._reading() as db:
            row = db.execute("SELECT data FROM records WHERE id = ?", (advisory_id,)).fetchone()
            if row is None:
                row = db.execute(
                    """SELECT r.data FROM aliases a JOIN records r ON r.id = a.id
                       WHERE a.alias = ? ORDER BY r.id LIMIT 1""",
                    (advisory_id,),
                ).fetchone()
        return None if row is None else dict(json.loads(zlib.decompress(row[0])))

    def changes(self, ecosystem: Ecosystem, cursor: Mapping[str, Any] | None) -> Changes:
        with self._reading() as db:
            top = int(db.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0])
            new_cursor = {"source": "osv", "instance": self.instance, "seq": top}
            if not cursor or cursor.get("instance") != self.instance:
                return Changes(None, new_cursor)  # another (or no) store: everything
            rows = db.execute(
                "SELECT DISTINCT name FROM changes WHERE ecosystem = ? AND seq > ? AND seq <= ?",
                (ecosystem.value, int(cursor.get("seq", 0)), top),
            ).fetchall()
        return Changes({row[0] for row in rows}, new_cursor, len(rows))

    def info(self) -> SourceInfo:
        with self._reading() as db:
            rows = db.execute(
                """SELECT rp.ecosystem, count(DISTINCT rp.id), max(r.modified)
                   FROM record_packages rp JOIN records r ON r.id = rp.id GROUP BY rp.ecosystem"""
            ).fetchall()
        stats = [EcosystemStats(Ecosystem(eco), int(n), newest) for eco, n, newest in rows]
        stats.sort(key=lambda s: list(Ecosystem).index(s.ecosystem))
        return SourceInfo(self.kind, self.target, stats)

    def count(self) -> int:
        with self._reading() as db:
            return int(db.execute("SELECT count(*) FROM records").fetchone()[0])


def _decode(blob: bytes) -> Advisory:
    return Advisory.model_validate_json(zlib.decompress(blob))
