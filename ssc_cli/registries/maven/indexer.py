"""The Maven Indexer transport format: chunk reader and writer, and the `.properties` file.

reference/registries.md §3.2. A chunk is gzip( version byte, int64 timestamp ms, records ) where a
record is an int32 field count followed by fields ( flags byte, `DataOutput.writeUTF` name (u16
length), value as int32 length + modified UTF-8 ). Layout checked against apache/maven-indexer
`indexer-reader` ChunkReader/ChunkWriter. `u` = g|a|v|classifier|ext, `i` = packaging|lastModified|…,
`del` = the uinfo of a removed artifact. Central's full chunk holds tens of millions of records, so
the reader streams through a fixed buffer and keeps only the fields asked for; the collapsed
(g:a, version) table is maven_local_index.py.
"""

from __future__ import annotations

import gzip
import re
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from ssc_cli.errors import MalformedPayload

INDEX_PREFIX = "nexus-maven-repository-index"
FIELD_SEPARATOR = "|"
NOT_AVAILABLE = "NA"
_WANTED = frozenset({b"u", b"i", b"del"})
_INT = struct.Struct(">i")
_HEADER = struct.Struct(">bq")
_LOOKAHEAD = 256 * 1024
# ChunkWriter flags: F_INDEXED=1, F_TOKENIZED=2, F_STORED=4.
_UNINDEXED = frozenset({"i", "m"})
_UNTOKENIZED = frozenset({"i", "m", "1", "px"})


@dataclass(frozen=True, slots=True)
class ChunkHeader:
    version: int
    timestamp_ms: int  # -1 when the writer had none


@dataclass(slots=True)  # not frozen: a frozen __init__ costs a setattr call per field
class ArtifactEvent:
    """One artifact file added to (or removed from) the repository, as a chunk says."""

    removed: bool
    group_id: str
    artifact_id: str
    version: str
    classifier: str | None
    modified_ms: int | None

    @property
    def name(self) -> str:
        return f"{self.group_id}:{self.artifact_id}"


# -- modified UTF-8 (java.io.DataInput) -----------------------------------------------------


def decode_mutf8(data: bytes) -> str:
    """Java's modified UTF-8: NUL as C0 80, supplementary characters as surrogate pairs."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.replace(b"\xc0\x80", b"\x00").decode("utf-8", "surrogatepass")
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def encode_mutf8(text: str) -> bytes:
    """The inverse of decode_mutf8 (what DataOutput.writeUTF produces)."""
    if text.isascii() and "\x00" not in text:
        return text.encode("ascii")
    units: list[str] = []
    for char in text:
        point = ord(char)
        if point > 0xFFFF:  # Java strings hold UTF-16: a supplementary character is two units
            point -= 0x10000
            units.append(chr(0xD800 + (point >> 10)))
            units.append(chr(0xDC00 + (point & 0x3FF)))
        else:
            units.append(char)
    return "".join(units).encode("utf-8", "surrogatepass").replace(b"\x00", b"\xc0\x80")


# -- reading ---------------------------------------------------------------------------------


class Readable(Protocol):
    """A binary stream (a GzipFile over the chunk file, a BytesIO in tests)."""

    def read(self, size: int = -1, /) -> bytes: ...


class _Stream:
    """A fixed-size window over a binary stream: slices without a read() call per field."""

    def __init__(self, raw: Readable, where: str, block: int = 1 << 20) -> None:
        self.raw = raw
        self.where = where
        self.block = block
        self.buf = b""
        self.pos = 0
        self.offset = 0  # bytes consumed before buf, for error messages

    def take(self, n: int) -> bytes:
        pos = self.pos
        end = pos + n
        if end <= len(self.buf):
            self.pos = end
            return self.buf[pos:end]
        return self._take_slow(n)

    def _take_slow(self, n: int) -> bytes:
        if n < 0:
            raise self.corrupt(f"negative length {n}")
        parts = [self.buf[self.pos :]]
        have = len(parts[0])
        while have < n:
            chunk = self._read()
            if not chunk:
                raise self.corrupt(f"truncated: wanted {n} bytes, {have} left")
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        self.offset += self.pos
        self.buf = data
        self.pos = n
        return data[:n]

    def skip(self, n: int) -> None:
        if n < 0:
            raise self.corrupt(f"negative length {n}")
        left = len(self.buf) - self.pos
        if n <= left:
            self.pos += n
            return
        n -= left
        self.offset += self.pos + left
        self.buf, self.pos = b"", 0
        while n > 0:
            chunk = self._read(min(n, self.block))
            if not chunk:
                raise self.corrupt("truncated inside a skipped field")
            self.offset += len(chunk)
            n -= len(chunk)

    def fill(self, ahead: int) -> bool:
        """Keep at least `ahead` bytes in the window when the stream has them; False at the end."""
        rest = self.buf[self.pos :]
        self.offset += self.pos
        parts = [rest]
        have = len(rest)
        while have < ahead:
            chunk = self._read()
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        self.buf, self.pos = b"".join(parts), 0
        return have > 0

    def _read(self, n: int | None = None) -> bytes:
        try:
            return self.raw.read(n or self.block)
        except (OSError, EOFError, zlib.error) as exc:
            raise self.corrupt(f"unreadable gzip stream ({exc})") from exc

    def corrupt(self, what: str) -> MalformedPayload:
        return MalformedPayload(
            f"{self.where}: corrupt Maven index chunk near byte {self.offset + self.pos}: {what}"
        )


def read_header(stream: _Stream) -> ChunkHeader:
    version, timestamp = _HEADER.unpack(stream.take(_HEADER.size))
    if version != 1:
        raise stream.corrupt(f"unsupported chunk version {version}")
    return ChunkHeader(version & 0xFF, timestamp)


def iter_records(
    raw: Readable, where: str, wanted: frozenset[bytes] = _WANTED
) -> Iterator[dict[str, str]]:
    """Every record of a decompressed chunk stream, keeping only the fields named in wanted."""
    stream = _Stream(raw, where)
    read_header(stream)
    names = {name: name.decode("ascii", "replace") for name in wanted}
    unpack_from = _INT.unpack_from
    while True:
        # Fast path: parse the record straight from the window with offsets, no calls per field.
        if len(stream.buf) - stream.pos < _LOOKAHEAD and not stream.fill(_LOOKAHEAD):
            return
        buf, pos, end = stream.buf, stream.pos, len(stream.buf)
        record: dict[str, str] | None = {}
        if pos + 4 > end:
            record = None
        else:
            (count,) = unpack_from(buf, pos)
            if count < 0 or count > 10_000:
                raise stream.corrupt(f"implausible field count {count}")
            pos += 4
            for _ in range(count):
                name_end = (
                    pos + 3 + ((buf[pos + 1] << 8) | buf[pos + 2]) if pos + 3 <= end else end + 1
                )
                if name_end + 4 > end:
                    record = None
                    break
                (length,) = unpack_from(buf, name_end)
                value_end = name_end + 4 + length
                if length < 0 or value_end > end:
                    record = None
                    break
                key = names.get(buf[pos + 3 : name_end])
                if key is not None:
                    record[key] = decode_mutf8(buf[name_end + 4 : value_end])  # type: ignore[index]
                pos = value_end
        if record is not None:
            stream.pos = pos
            yield record
        else:
            # The record runs past the window (a huge group list, or the end of the stream).
            yield _read_record_slowly(stream, names)


def _read_record_slowly(stream: _Stream, names: dict[bytes, str]) -> dict[str, str]:
    take, skip, unpack = stream.take, stream.skip, _INT.unpack
    (count,) = unpack(take(4))
    if count < 0 or count > 10_000:
        raise stream.corrupt(f"implausible field count {count}")
    record: dict[str, str] = {}
    for _ in range(count):
        head = take(3)  # flags byte, then the u16 length of the field name
        name = take((head[1] << 8) | head[2])
        (length,) = unpack(take(4))
        key = names.get(name)
        if key is not None:
            record[key] = decode_mutf8(take(length))
        else:
            skip(length)
    return record


def artifact_events(records: Iterable[Mapping[str, str]]) -> Iterator[ArtifactEvent]:
    """Added and removed artifact files; descriptor and group-list records are skipped."""
    for record in records:
        removed = "del" in record
        uinfo = record.get("del") if removed else record.get("u")
        if not uinfo:
            continue
        parts = uinfo.split(FIELD_SEPARATOR)
        if len(parts) < 3 or not parts[0] or not parts[1] or not parts[2]:
            continue
        classifier = parts[3] if len(parts) > 3 and parts[3] != NOT_AVAILABLE else None
        modified: int | None = None
        info = record.get("i")
        if info:
            fields = info.split(FIELD_SEPARATOR, 2)
            if len(fields) > 1 and fields[1].lstrip("-").isdigit():
                modified = int(fields[1])
        yield ArtifactEvent(removed, parts[0], parts[1], parts[2], classifier, modified)


def open_chunk(path: Path) -> gzip.GzipFile:
    """A chunk file opened for streaming decompression."""
    return gzip.GzipFile(path, "rb")


def read_chunk_header(path: Path) -> ChunkHeader:
    with open_chunk(path) as raw:
        return read_header(_Stream(raw, str(path)))


# -- writing (mirrors ChunkWriter; used by the fake registry, tests and benchmarks) ----------


def write_chunk(
    out: IO[bytes], records: Iterable[Mapping[str, str]], *, timestamp_ms: int, version: int = 1
) -> int:
    """Write records as one gzip transport chunk; returns how many were written."""
    written = 0
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(_HEADER.pack(version, timestamp_ms))
        parts: list[bytes] = []
        for record in records:
            parts.append(_INT.pack(len(record)))
            for name, value in record.items():
                flags = (0 if name in _UNINDEXED else 1) + (0 if name in _UNTOKENIZED else 2) + 4
                raw_name = encode_mutf8(name)
                raw_value = encode_mutf8(value)
                parts.append(struct.pack(">BH", flags, len(raw_name)))
                parts.append(raw_name)
                parts.append(_INT.pack(len(raw_value)))
                parts.append(raw_value)
            written += 1
            if len(parts) > 4096:
                gz.write(b"".join(parts))
                parts.clear()
        gz.write(b"".join(parts))
    return written


def artifact_record(
    group_id: str,
    artifact_id: str,
    version: str,
    *,
    modified_ms: int,
    classifier: str | None = None,
    extension: str = "jar",
    packaging: str = "jar",
    size: int = 0,
    sha1: str | None = None,
) -> dict[str, str]:
    """A record as Maven Indexer publishes an added artifact file."""
    record = {
        "u": FIELD_SEPARATOR.join(
            [group_id, artifact_id, version, classifier or NOT_AVAILABLE, extension]
        ),
        "i": FIELD_SEPARATOR.join(
            [packaging, str(modified_ms), str(size), "0", "0", "0", extension]
        ),
        "m": str(modified_ms),
    }
    if sha1:
        record["1"] = sha1
    return record


def removal_record(
    group_id: str, artifact_id: str, version: str, *, modified_ms: int, extension: str = "jar"
) -> dict[str, str]:
    return {
        "del": FIELD_SEPARATOR.join([group_id, artifact_id, version, NOT_AVAILABLE, extension]),
        "m": str(modified_ms),
    }


# -- .properties -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexProperties:
    """`nexus-maven-repository-index.properties`: which chain and incrementals are published."""

    index_id: str | None
    chain_id: str | None
    timestamp: str | None
    last_incremental: int | None
    incrementals: frozenset[int]

    def cursor(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "last_incremental": self.last_incremental,
            "timestamp": self.timestamp,
        }

    def chunks_after(self, last: int) -> list[int] | None:
        """Incremental chunk numbers to apply after `last`, or None when they are not all listed."""
        if self.last_incremental is None or self.last_incremental < last:
            return None
        wanted = list(range(last + 1, self.last_incremental + 1))
        return wanted if all(n in self.incrementals for n in wanted) else None


_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        char = match.group(1)
        if char.startswith("u") and len(char) == 5:
            return chr(int(char[1:], 16))
        return _ESCAPES.get(char, char)

    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", repl, text)


def parse_java_properties(text: str) -> dict[str, str]:
    """java.util.Properties.load: comments, continuations, `=`/`:`/space separators, escapes."""
    result: dict[str, str] = {}
    logical: list[str] = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if not logical and (not stripped or stripped[0] in "#!"):
            continue
        trailing = len(stripped) - len(stripped.rstrip("\\"))
        if trailing % 2 == 1:
            logical.append(stripped[:-1])
            continue
        logical.append(stripped)
        entry = "".join(logical)
        logical = []
        match = re.match(r"((?:\\.|[^=:\s\\])*)\s*[=:]?\s*(.*)$", entry)
        if match:
            result[_unescape(match.group(1))] = _unescape(match.group(2))
    return result


def parse_index_properties(text: str, where: str) -> IndexProperties:
    if "\x00" in text:
        raise MalformedPayload(f"{where}: binary garbage in Maven index properties", url=where)
    props = parse_java_properties(text)
    if not props.get("nexus.index.chain-id") and not props.get("nexus.index.id"):
        raise MalformedPayload(f"{where}: no nexus.index.id or chain-id", url=where)

    def number(value: str | None) -> int | None:
        return int(value) if value is not None and value.strip().isdigit() else None

    incrementals = frozenset(
        n
        for key, value in props.items()
        if key.startswith("nexus.index.incremental-") and (n := number(value)) is not None
    )
    return IndexProperties(
        index_id=props.get("nexus.index.id"),
        chain_id=props.get("nexus.index.chain-id"),
        timestamp=props.get("nexus.index.timestamp"),
        last_incremental=number(props.get("nexus.index.last-incremental")),
        incrementals=incrementals,
    )


def iso_from_ms(value: int | None) -> str | None:
    """Index lastModified (epoch ms) as an ISO-8601 UTC string."""
    if value is None or value <= 0:
        return None
    return datetime.fromtimestamp(value / 1000, UTC).isoformat(timespec="seconds")
