"""The crates.io database dump: stream db-dump.tar.gz once into an on-disk SQLite index.

The dump (registries.md §5) is a tarball of PostgreSQL CSV exports — ~150k crates, ~1.5M versions,
~10M dependency rows. Members come in no guaranteed order and a gzip stream cannot seek, so every
needed column is copied, row by row, into a SQLite file beside the dump; nothing is held in memory
beyond one CSV row and one insert batch. Indexes are built after the load, then the file is
atomically renamed into place and reused while the dump itself is unchanged.
"""

from __future__ import annotations

import csv
import hashlib
import io
import operator
import os
import re
import sqlite3
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ssc_cli import json_payload
from ssc_cli.errors import MalformedPayload

# The readme column of crates.csv holds whole READMEs: the csv module's 128 KiB default is too small.
_FIELD_LIMIT = 64 * 1024 * 1024
_BATCH = 20_000
# Bump when the index schema changes: an index built by another schema is rebuilt.
_SCHEMA = "4"

_SCHEMA_SQL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE crates (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, canon TEXT NOT NULL, created_at TEXT,
  repository TEXT, homepage TEXT, token TEXT
);
CREATE TABLE versions (
  id INTEGER PRIMARY KEY, crate_id INTEGER NOT NULL, num TEXT NOT NULL, created_at TEXT,
  yanked INTEGER NOT NULL, license TEXT
);
CREATE TABLE deps (
  version_id INTEGER NOT NULL, crate_id INTEGER NOT NULL, req TEXT, optional INTEGER NOT NULL,
  kind INTEGER NOT NULL, target TEXT, explicit_name TEXT
);
"""
_INDEX_SQL = """
CREATE UNIQUE INDEX crates_canon ON crates (canon);
CREATE INDEX versions_crate ON versions (crate_id);
CREATE INDEX deps_version ON deps (version_id);
"""


@dataclass(frozen=True, slots=True)
class DumpCrate:
    """One crates.csv row, as far as ssc needs it."""

    id: int
    name: str
    created_at: str | None
    repository: str | None
    homepage: str | None
    token: str | None


@dataclass(frozen=True, slots=True)
class DumpVersion:
    """One versions.csv row."""

    id: int
    num: str
    created_at: str | None
    yanked: bool
    license: str | None


@dataclass(frozen=True, slots=True)
class DumpDependency:
    """One dependencies.csv row with the depended-on crate's name resolved."""

    version_id: int
    crate_name: str
    req: str
    optional: bool
    kind: int
    target: str | None
    explicit_name: str | None


def canonical(name: str) -> str:
    """crates.io's canon_crate_name: `Foo-Bar` and `foo_bar` are the same crate (registries.md §5.3)."""
    return name.strip().lower().replace("-", "_")


_PG_NAIVE = re.compile(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?")


def iso_utc(text: str | None) -> str | None:
    """A dump/index/API timestamp as ISO-8601 UTC (`2017-05-12T01:33:56.398153Z`); None if empty."""
    if not text:
        return None
    naive = _PG_NAIVE.fullmatch(text)
    if naive:  # the dump's own spelling (UTC without offset): millions of rows, skip datetime
        frac = (naive.group(3) or "").ljust(6, "0")
        return f"{naive.group(1)}T{naive.group(2)}{'.' + frac if int(frac) else ''}Z"
    value = text.strip().replace(" ", "T", 1)
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    elif value.endswith("+00"):  # PostgreSQL's short offset
        value += ":00"
    main, dot, rest = value.partition(".")
    if dot:  # Python parses at most 6 fractional digits; the dump metadata has 9
        digits = "".join(ch for ch in rest if ch.isdigit())
        value = f"{main}.{digits[:6]}{rest[len(digits) :]}"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return text.strip()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    frac = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def moment_key(iso: str) -> str:
    """An iso_utc() string in fixed width, so text order is time order (`…13Z` < `…13.5Z`)."""
    if len(iso) == 20 and iso.endswith("Z"):  # no fractional part
        return iso[:-1] + ".000000Z"
    return iso


def kind_name(kind: int | str | None, optional: bool) -> str:
    """ssc's edge kind of a cargo dependency: normal → runtime (optional → optional), build, dev."""
    if kind in (1, "1", "build"):
        return "build"
    if kind in (2, "2", "dev"):
        return "dev"
    return "optional" if optional else "runtime"


def crate_token(
    repository: str | None, versions: Iterable[tuple[str, bool, str | None, str | None]]
) -> str:
    """Change marker of a crate: a digest of what ssc stores about it (versions, yanks, licences)."""
    digest = hashlib.sha1((repository or "").encode())
    for num, yanked, created_at, license_ in sorted(versions):
        digest.update(f"\n{num}\t{int(yanked)}\t{created_at or ''}\t{license_ or ''}".encode())
    return "dump:" + digest.hexdigest()[:20]


class DumpIndex:
    """Read side of an indexed dump: one SQLite file, opened read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def close(self) -> None:
        self._db.close()

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    @property
    def timestamp(self) -> str:
        """metadata.json `timestamp` of the dump, normalised to ISO-8601 UTC."""
        return self.meta("timestamp") or ""

    def names(self) -> Iterator[str]:
        """Every crate name as published, in crates.csv id order."""
        for (name,) in self._db.execute("SELECT name FROM crates ORDER BY id"):
            yield str(name)

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM crates").fetchone()[0])

    def crate(self, name: str) -> DumpCrate | None:
        row = self._db.execute(
            "SELECT id, name, created_at, repository, homepage, token FROM crates WHERE canon = ?",
            (canonical(name),),
        ).fetchone()
        return DumpCrate(*row) if row else None

    def versions(self, crate_id: int) -> list[DumpVersion]:
        rows = self._db.execute(
            "SELECT id, num, created_at, yanked, license FROM versions WHERE crate_id = ?",
            (crate_id,),
        ).fetchall()
        return [DumpVersion(r[0], r[1], r[2], bool(r[3]), r[4]) for r in rows]

    def dependencies(self, crate_id: int) -> list[DumpDependency]:
        """Every indexed dependency row of every version of one crate."""
        rows = self._db.execute(
            "SELECT d.version_id, c.name, d.req, d.optional, d.kind, d.target, d.explicit_name "
            "FROM versions v JOIN deps d ON d.version_id = v.id JOIN crates c ON c.id = d.crate_id "
            "WHERE v.crate_id = ?",
            (crate_id,),
        ).fetchall()
        return [DumpDependency(r[0], r[1], r[2] or "", bool(r[3]), r[4], r[5], r[6]) for r in rows]

    def tokens(self, canons: Iterable[str]) -> dict[str, tuple[str, str]]:
        """canon → (name, token) for the given canonical names that the dump has."""
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (canon TEXT PRIMARY KEY)")
        self._db.execute("DELETE FROM temp.wanted")
        self._db.executemany("INSERT OR IGNORE INTO temp.wanted VALUES (?)", ((c,) for c in canons))
        rows = self._db.execute(
            "SELECT c.canon, c.name, c.token FROM crates c JOIN temp.wanted w ON w.canon = c.canon"
        )
        return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}

    def created_after(self, moment: str) -> list[str]:
        """Crates created after an iso_utc() moment (stored as moment_key, so text order works)."""
        rows = self._db.execute(
            "SELECT name FROM crates WHERE created_at > ? ORDER BY id", (moment_key(moment),)
        )
        return [str(r[0]) for r in rows]


def ensure_index(
    dump: Path,
    index: Path,
    *,
    kinds: frozenset[str],
    normalize_repository: Callable[[str | None], str | None],
) -> bool:
    """Build the index of this dump file unless one from the same file and kinds exists.

    Returns True when it was (re)built. Runs in a worker thread: opens no connection it keeps.
    """
    stat = dump.stat()
    marker = f"{_SCHEMA}|{stat.st_size}|{stat.st_mtime_ns}|{','.join(sorted(kinds))}"
    if index.exists():
        try:
            existing = DumpIndex(index)
            try:
                if existing.meta("marker") == marker:
                    return False
            finally:
                existing.close()
        except sqlite3.Error:
            pass
    build_index(dump, index, kinds=kinds, marker=marker, normalize_repository=normalize_repository)
    return True


def build_index(
    dump: Path,
    index: Path,
    *,
    kinds: frozenset[str],
    marker: str,
    normalize_repository: Callable[[str | None], str | None],
) -> None:
    """Stream the tarball once into a fresh SQLite file, then rename it over `index`."""
    tmp = index.with_name(index.name + f".build-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA_SQL)
        seen = _load_members(db, dump, kinds)
        missing = {"crates.csv", "versions.csv", "dependencies.csv", "metadata.json"} - seen
        if missing:
            raise MalformedPayload(f"{dump}: crates.io dump lacks {', '.join(sorted(missing))}")
        db.executescript(_INDEX_SQL)
        _fill_tokens(db, normalize_repository)
        db.execute("INSERT INTO meta VALUES ('marker', ?)", (marker,))
        db.commit()
    except BaseException:
        db.close()
        tmp.unlink(missing_ok=True)
        raise
    db.close()
    os.replace(tmp, index)


def _load_members(db: sqlite3.Connection, dump: Path, kinds: frozenset[str]) -> set[str]:
    csv.field_size_limit(_FIELD_LIMIT)
    seen: set[str] = set()
    try:
        with tarfile.open(dump, mode="r|gz") as archive:
            for member in archive:
                base = member.name.rsplit("/", 1)[-1]
                if not member.isfile() or base not in _LOADERS:
                    continue
                stream = archive.extractfile(member)
                if stream is None:
                    continue
                _LOADERS[base](db, stream, kinds)
                seen.add(base)
    except (
        tarfile.TarError,
        EOFError,
        OSError,
        zlib.error,
        csv.Error,
        ValueError,
        OverflowError,  # an id too large for SQLite's INTEGER
        sqlite3.IntegrityError,  # a duplicated id: a mangled export, not data to keep
    ) as exc:
        raise MalformedPayload(f"{dump}: unreadable crates.io dump ({exc})") from exc
    return seen


class _Unseekable(io.RawIOBase):
    """A tar member of a streamed archive as a raw stream TextIOWrapper accepts.

    tarfile's stream-mode member objects lack `seekable`, which TextIOWrapper asks for.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _rows(stream: IO[bytes], *wanted: str) -> Iterator[tuple[str, ...]]:
    """The wanted columns of every CSV row, in the order asked (absent columns read as "")."""
    raw = io.BufferedReader(_Unseekable(stream), buffer_size=1024 * 1024)
    reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
    header = next(reader, None)
    if header is None:
        return
    at = {name: i for i, name in enumerate(header)}
    if len(wanted) > 1 and all(name in at for name in wanted):
        pick = operator.itemgetter(*[at[n] for n in wanted])
        width = len(header)
        for values in reader:
            if len(values) != width:  # a cut-off or mangled export, not a short row
                raise csv.Error(f"line {reader.line_num}: {len(values)} fields, expected {width}")
            yield pick(values)
        return
    positions = [at.get(name) for name in wanted]
    for values in reader:
        yield tuple(values[i] if i is not None and i < len(values) else "" for i in positions)


_TRUE = frozenset({"t", "true", "1", "T", "TRUE", "True"})


def _batched(db: sqlite3.Connection, sql: str, rows: Iterator[tuple[object, ...]]) -> None:
    batch: list[tuple[object, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _BATCH:
            db.executemany(sql, batch)
            batch.clear()
    if batch:
        db.executemany(sql, batch)


def _load_metadata(db: sqlite3.Connection, stream: IO[bytes], kinds: frozenset[str]) -> None:
    try:
        data = json_payload.loads(stream.read(1024 * 1024))
        timestamp = iso_utc(str(data["timestamp"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedPayload(f"crates.io dump metadata.json is unusable ({exc})") from exc
    db.execute("INSERT INTO meta VALUES ('timestamp', ?)", (timestamp,))
    db.execute("INSERT INTO meta VALUES ('commit', ?)", (str(data.get("crates_io_commit", "")),))


def _load_crates(db: sqlite3.Connection, stream: IO[bytes], kinds: frozenset[str]) -> None:
    rows = _rows(stream, "id", "name", "created_at", "repository", "homepage")
    _batched(
        db,
        "INSERT INTO crates (id, name, canon, created_at, repository, homepage) VALUES (?,?,?,?,?,?)",
        (
            (int(cid), name, canonical(name), _key(created), repo or None, home or None)
            for cid, name, created, repo, home in rows
        ),
    )


def _key(created: str) -> str | None:
    moment = iso_utc(created)
    return moment_key(moment) if moment else None


def _load_versions(db: sqlite3.Connection, stream: IO[bytes], kinds: frozenset[str]) -> None:
    rows = _rows(stream, "id", "crate_id", "num", "created_at", "yanked", "license")
    _batched(
        db,
        "INSERT INTO versions VALUES (?,?,?,?,?,?)",
        (
            (int(vid), int(cid), num, iso_utc(created), int(yanked in _TRUE), license_ or None)
            for vid, cid, num, created, yanked, license_ in rows
        ),
    )


def _load_dependencies(db: sqlite3.Connection, stream: IO[bytes], kinds: frozenset[str]) -> None:
    # Only the kinds this run writes are indexed: dev/build/optional rows are most of the file.
    wanted = {
        (kind, optional)
        for kind in (0, 1, 2)
        for optional in (False, True)
        if kind_name(kind, optional) in kinds
    }
    rows = _rows(
        stream, "version_id", "crate_id", "req", "optional", "kind", "target", "explicit_name"
    )

    def keep() -> Iterator[tuple[object, ...]]:
        for vid, cid, req, optional_text, kind_text, target, alias in rows:
            kind = int(kind_text or 0)
            optional = optional_text in _TRUE
            if (kind, optional) in wanted:
                yield (int(vid), int(cid), req, int(optional), kind, target or None, alias or None)

    _batched(db, "INSERT INTO deps VALUES (?,?,?,?,?,?,?)", keep())


_LOADERS: dict[str, Callable[[sqlite3.Connection, IO[bytes], frozenset[str]], None]] = {
    "metadata.json": _load_metadata,
    "crates.csv": _load_crates,
    "versions.csv": _load_versions,
    "dependencies.csv": _load_dependencies,
}


def _fill_tokens(
    db: sqlite3.Connection, normalize_repository: Callable[[str | None], str | None]
) -> None:
    """One pass over versions in crate order: the token each crate's record will carry."""
    repos = {
        int(cid): repository_of(normalize_repository, repo, home)
        for cid, repo, home in db.execute("SELECT id, repository, homepage FROM crates")
    }
    updates: list[tuple[str, int]] = []
    current: int | None = None
    rows: list[tuple[str, bool, str | None, str | None]] = []
    cursor = db.execute(
        "SELECT crate_id, num, yanked, created_at, license FROM versions ORDER BY crate_id"
    )
    for cid, num, yanked, created_at, license_ in cursor:
        if cid != current:
            if current is not None:
                updates.append((crate_token(repos.get(current), rows), current))
            current, rows = cid, []
        rows.append((num, bool(yanked), created_at, license_))
    if current is not None:
        updates.append((crate_token(repos.get(current), rows), current))
    db.executemany("UPDATE crates SET token = ? WHERE id = ?", updates)
    # Crates without versions (none should exist) still get a token so the diff sees them.
    empty = [
        (crate_token(repos.get(int(cid)), []), int(cid))
        for (cid,) in db.execute("SELECT id FROM crates WHERE token IS NULL").fetchall()
    ]
    db.executemany("UPDATE crates SET token = ? WHERE id = ?", empty)


def repository_of(
    normalize: Callable[[str | None], str | None], repository: str | None, homepage: str | None
) -> str:
    """The crate's normalised repository URL: `repository`, else `homepage`, else n/a."""
    return normalize(repository) or normalize(homepage) or "n/a"
