"""The NuGet catalog on disk: raw leaves as gzip JSON Lines per catalog page, plus their index.

reference/registries.md §4 and issue 4: every raw leaf payload is kept so a field needed later
is read from disk, not by walking the catalog again. Each page file holds one gzip member per
leaf, so `zcat page123.jsonl.gz` is plain JSON Lines while the index (`index.sqlite`) can seek
straight to one leaf. Files are replaced atomically; the index rows of a file are committed
after it, so a crash between the two leaves bytes the next append trims and rewrites.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ssc_cli.localdb import open_wal

DETAILS = "details"
DELETE = "delete"

_TS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$"
)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages(
  url TEXT PRIMARY KEY, commit_ts TEXT NOT NULL, count INTEGER NOT NULL,
  file TEXT NOT NULL, complete INTEGER NOT NULL, max_ts TEXT);
CREATE TABLE IF NOT EXISTS items(
  leaf_url TEXT PRIMARY KEY, id TEXT NOT NULL, raw_id TEXT NOT NULL, version TEXT NOT NULL,
  vkey TEXT NOT NULL, type TEXT NOT NULL, commit_ts TEXT NOT NULL,
  file TEXT NOT NULL, offset INTEGER NOT NULL, size INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS items_id ON items(id);
CREATE INDEX IF NOT EXISTS items_ts ON items(commit_ts);
CREATE INDEX IF NOT EXISTS items_file ON items(file);
CREATE TABLE IF NOT EXISTS resolved(id TEXT PRIMARY KEY, as_of TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def canonical_ts(text: str) -> str:
    """A commitTimeStamp as fixed-width UTC text (7 fraction digits) that sorts as it compares.

    The catalog spells the same instant "…07.9550798Z" in pages and "…07.9550798+00:00" in
    leaves, with varying fraction widths, so raw strings must never be compared.
    """
    match = _TS.match(text.strip())
    if match is None:
        raise ValueError(f"not a catalog timestamp: {text!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = (match.group(7) or "").ljust(7, "0")[:7]
    zone = match.group(8) or "Z"
    tz = UTC
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    moment = datetime(year, month, day, hour, minute, second, tzinfo=tz).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction}Z"


def version_key(version: str) -> str:
    """Identity of a NuGet version: case-insensitive, build metadata ignored (NuGet's rule)."""
    return version.strip().split("+", 1)[0].lower()


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """One catalog event: a page item, or the registration's pointer to a leaf."""

    leaf_url: str
    type: str  # DETAILS or DELETE
    commit_ts: str  # canonical_ts
    id: str  # as published
    version: str  # as published

    @property
    def lower_id(self) -> str:
        return self.id.lower()


@dataclass(frozen=True, slots=True)
class StoredItem:
    """A catalog event as the index holds it, with where its leaf sits on disk."""

    item: CatalogItem
    file: str
    offset: int
    size: int


class CatalogArchive:
    """The leaf archive of one catalog (data_dir/nuget/catalog) and its SQLite index."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._db = open_wal(root / "index.sqlite", timeout=60)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- meta -----------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self._db.execute("DELETE FROM meta WHERE key=?", (key,))
        else:
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    @property
    def walked_through(self) -> str | None:
        """Every catalog item up to this timestamp is archived (contiguously from `since`)."""
        return self.meta("walked_through")

    @property
    def from_start(self) -> bool:
        """True once a walk from the first catalog page completed: the archive knows every id."""
        return self.meta("from_start") == "1"

    def advance(self, start: str | None, reached: str | None, *, from_start: bool) -> None:
        """Record that items in (start, reached] are archived; keep coverage honest on gaps."""
        current = self.walked_through
        if from_start:
            self.set_meta("from_start", "1")
        elif start is not None and (current is None or start > current):
            # The walk began after the archive's end: items in between were never read.
            self.set_meta("from_start", None)
        if reached is not None and (current is None or reached > current or start is None):
            self.set_meta("walked_through", reached)

    # -- pages ----------------------------------------------------------------------------

    def page_state(self, url: str) -> tuple[str, int, bool] | None:
        """(commit_ts, count, complete) of an archived page."""
        row = self._db.execute(
            "SELECT commit_ts, count, complete FROM pages WHERE url=?", (url,)
        ).fetchone()
        return (str(row[0]), int(row[1]), bool(row[2])) if row else None

    def page_max_ts(self, url: str) -> str | None:
        """Newest item the page listed when it was archived (wherever its leaf is kept)."""
        row = self._db.execute("SELECT max_ts FROM pages WHERE url=?", (url,)).fetchone()
        return str(row[0]) if row and row[0] else None

    def page_ids(self, url: str) -> list[str]:
        """Ids of the leaves kept in a page's file."""
        rows = self._db.execute(
            "SELECT DISTINCT id FROM items WHERE file=? ORDER BY id", (self.page_file(url),)
        )
        return [str(r[0]) for r in rows]

    def earliest_resolution(self) -> str | None:
        """The oldest as-of of ids resolved through the registration."""
        row = self._db.execute("SELECT min(as_of) FROM resolved").fetchone()
        return str(row[0]) if row and row[0] else None

    def archived(self, leaf_urls: Iterable[str]) -> set[str]:
        """The leaf URLs among these already in the archive."""
        urls = list(leaf_urls)
        found: set[str] = set()
        for start in range(0, len(urls), 500):
            chunk = urls[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT leaf_url FROM items WHERE leaf_url IN ({marks})", chunk
            )
            found.update(str(r[0]) for r in rows)
        return found

    def page_file(self, url: str) -> str:
        """Archive file of a catalog page: pages/<page name>.jsonl.gz."""
        name = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")
        return f"pages/{_SAFE.sub('_', name) or 'page'}.jsonl.gz"

    def store_page(
        self,
        url: str,
        commit_ts: str,
        count: int,
        entries: list[tuple[CatalogItem, dict[str, Any]]],
        *,
        complete: bool,
        max_ts: str | None = None,
    ) -> None:
        """Append these leaves to the page's file (atomically) and index them."""
        file = self.page_file(url)
        self._append(file, entries)
        self._db.execute(
            "INSERT INTO pages(url, commit_ts, count, file, complete, max_ts) VALUES(?,?,?,?,?,?) "
            "ON CONFLICT(url) DO UPDATE SET commit_ts=excluded.commit_ts, count=excluded.count, "
            "file=excluded.file, complete=excluded.complete, max_ts=excluded.max_ts",
            (url, commit_ts, count, file, int(complete), max_ts),
        )

    def store_resolved(
        self, lower_id: str, as_of: str, entries: list[tuple[CatalogItem, dict[str, Any]]]
    ) -> None:
        """Leaves found through the registration: the id's whole current state as of as_of."""
        file = f"registration/{_SAFE.sub('_', lower_id)}.jsonl.gz"
        self._append(file, entries)
        self._db.execute(
            "INSERT INTO resolved(id, as_of) VALUES(?, ?) "
            "ON CONFLICT(id) DO UPDATE SET as_of=excluded.as_of",
            (lower_id, as_of),
        )

    def _append(self, file: str, entries: list[tuple[CatalogItem, dict[str, Any]]]) -> None:
        # `ingest nuget` and `update nuget` hold different job locks and may both be adding
        # leaves (a first nuget.org walk takes days): one writer at a time, and what is
        # already archived is decided under the lock.
        with self._writer():
            self._append_locked(file, entries)

    @contextmanager
    def _writer(self) -> Iterator[None]:
        with (self.root / "writer.lock").open("a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _append_locked(self, file: str, entries: list[tuple[CatalogItem, dict[str, Any]]]) -> None:
        have = self.archived(item.leaf_url for item, _ in entries)
        fresh = []
        for item, leaf in entries:
            if item.leaf_url not in have:
                have.add(item.leaf_url)  # a page never lists one leaf twice, but be sure
                fresh.append((item, leaf))
        if not fresh:
            return
        path = self.root / file
        path.parent.mkdir(parents=True, exist_ok=True)
        row = self._db.execute("SELECT max(offset + size) FROM items WHERE file=?", (file,))
        indexed = int(row.fetchone()[0] or 0)
        old = b""
        if path.exists() and indexed:
            with path.open("rb") as handle:
                old = handle.read(indexed)  # bytes beyond the index are a crash's leftovers
        rows = []
        chunks = [old]
        offset = len(old)
        for item, leaf in fresh:
            line = json.dumps(leaf, ensure_ascii=False, separators=(",", ":")) + "\n"
            member = gzip.compress(line.encode("utf-8"), compresslevel=6, mtime=0)
            chunks.append(member)
            rows.append(
                (
                    item.leaf_url,
                    item.lower_id,
                    item.id,
                    item.version,
                    version_key(item.version),
                    item.type,
                    item.commit_ts,
                    file,
                    offset,
                    len(member),
                )
            )
            offset += len(member)
        tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
        with tmp.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO items(leaf_url, id, raw_id, version, vkey, type, "
                "commit_ts, file, offset, size) VALUES(?,?,?,?,?,?,?,?,?,?)",
                rows,
            )

    # -- reading --------------------------------------------------------------------------

    def knows(self, lower_id: str) -> bool:
        """True when the archive alone describes this id completely."""
        if self._db.execute("SELECT 1 FROM resolved WHERE id=?", (lower_id,)).fetchone():
            return True
        if not self.from_start:
            return False
        row = self._db.execute("SELECT 1 FROM items WHERE id=? LIMIT 1", (lower_id,))
        return row.fetchone() is not None

    def items_of(self, lower_id: str) -> list[StoredItem]:
        """Every archived event of an id, oldest first."""
        rows = self._db.execute(
            "SELECT leaf_url, type, commit_ts, raw_id, version, file, offset, size "
            "FROM items WHERE id=? ORDER BY commit_ts, leaf_url",
            (lower_id,),
        )
        return [
            StoredItem(
                CatalogItem(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])),
                str(r[5]),
                int(r[6]),
                int(r[7]),
            )
            for r in rows
        ]

    def current(self, lower_id: str) -> list[StoredItem]:
        """The latest event per version (a reflow or re-publish supersedes older ones)."""
        latest: dict[str, StoredItem] = {}
        for stored in self.items_of(lower_id):
            latest[version_key(stored.item.version)] = stored
        return list(latest.values())

    def read_leaf(self, stored: StoredItem) -> dict[str, Any]:
        """One archived leaf payload, read by seeking to its own gzip member."""
        with (self.root / stored.file).open("rb") as handle:
            handle.seek(stored.offset)
            data = handle.read(stored.size)
        leaf = json.loads(gzip.decompress(data))
        if not isinstance(leaf, dict):
            raise ValueError(f"archived leaf {stored.item.leaf_url} is not an object")
        return leaf

    def ids(self) -> Iterator[str]:
        """Every lower-case id the archive has seen, in order."""
        for (lower_id,) in self._db.execute("SELECT DISTINCT id FROM items ORDER BY id"):
            yield str(lower_id)

    def ids_since(self, watermark: str | None) -> list[str]:
        """Ids with an archived event committed after the watermark (all when None)."""
        if watermark is None:
            return list(self.ids())
        rows = self._db.execute(
            "SELECT DISTINCT id FROM items WHERE commit_ts > ? ORDER BY id", (watermark,)
        )
        return [str(r[0]) for r in rows]

    def max_ts(self) -> str | None:
        row = self._db.execute("SELECT max(commit_ts) FROM items").fetchone()
        return str(row[0]) if row and row[0] else None


def read_archive_file(path: Path) -> Iterator[dict[str, Any]]:
    """Every leaf of one archive file, in order (multi-member gzip reads as one stream)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
