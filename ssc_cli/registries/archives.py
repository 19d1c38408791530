"""Read artefact file lists without downloading artefacts: zip central directories over HTTP ranges.

Wheels, jars and nupkgs are zips; their central directory sits at the end of the file, so two
small range requests give every member name (securechain-compat.md §6-21: never the whole file).
"""

from __future__ import annotations

import asyncio
import io
import struct
import tarfile
import zipfile
from collections.abc import Iterable

from ssc_cli.errors import MalformedPayload, PayloadTooLarge
from ssc_cli.http import Http

_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_TAIL = 64 * 1024 + 22
# A server that ignores Range sends the whole file: accept that only for small ones.
_WHOLE_ZIP_CAP = 16 * _TAIL
_ZIP64_ENTRIES = 0xFFFF  # the real count is in the zip64 record


async def zip_member_names(http: Http, url: str, *, max_entries: int = 50_000) -> list[str]:
    """Member names of the zip at url, read from its central directory with range requests.

    A body that does not parse is read again after a backoff (a corrupted transfer looks the
    same as a corrupt file); only a zip that stays unreadable raises MalformedPayload. A zip
    with more entries than max_entries raises PayloadTooLarge at once: reading it again cannot
    make it smaller.
    """
    attempt = 0
    while True:
        try:
            return await _zip_member_names(http, url, max_entries)
        except MalformedPayload:
            if attempt >= http.config.retries:
                raise
            attempt += 1
            http.counters.retries += 1
            await asyncio.sleep(_backoff(http, attempt))


def _backoff(http: Http, attempt: int) -> float:
    """The HTTP layer's exponential backoff ceiling for this attempt (no jitter needed here)."""
    return float(min(http.config.backoff_max, http.config.backoff_base * 2.0**attempt))


async def _zip_member_names(http: Http, url: str, max_entries: int) -> list[str]:
    tail = await http.get_range(url, suffix=_TAIL, max_bytes=_WHOLE_ZIP_CAP)
    if tail.status == 200:  # the server ignored Range and sent the whole (small) body
        return _names_from_whole_zip(tail.content, url, max_entries)
    total = _total_size(tail.headers.get("content-range", ""), url)
    tail_start = total - len(tail.content)
    cd_offset, cd_size, entries = _end_of_central_directory(tail.content, tail_start, url)
    if entries > max_entries and entries != _ZIP64_ENTRIES:
        raise PayloadTooLarge(
            f"{url}: {entries} zip entries exceed the cap of {max_entries}", url=url
        )
    if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
        cd_offset, cd_size = await _zip64_directory(http, url, tail.content, tail_start)
    if cd_offset >= tail_start:
        start = cd_offset - tail_start
        directory = tail.content[start : start + cd_size]
    else:
        directory = (
            await http.get_range(url, start=cd_offset, end=cd_offset + cd_size - 1)
        ).content
    return _parse_central_directory(directory, url, max_entries)


def _names_from_whole_zip(data: bytes, url: str, max_entries: int) -> list[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        raise MalformedPayload(f"{url}: not a zip archive ({exc})", url=url) from exc
    return names[:max_entries]


def _total_size(content_range: str, url: str) -> int:
    try:
        return int(content_range.rsplit("/", 1)[1])
    except (IndexError, ValueError) as exc:
        raise MalformedPayload(f"{url}: unusable Content-Range {content_range!r}", url=url) from exc


def _end_of_central_directory(tail: bytes, tail_start: int, url: str) -> tuple[int, int, int]:
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        raise MalformedPayload(f"{url}: no zip end-of-central-directory record", url=url)
    (_, _, _, _, entries, cd_size, cd_offset, _) = struct.unpack("<4s4H2LH", tail[at : at + 22])
    return cd_offset, cd_size, entries


async def _zip64_directory(http: Http, url: str, tail: bytes, tail_start: int) -> tuple[int, int]:
    at = tail.rfind(_ZIP64_LOCATOR)
    if at < 0:
        raise MalformedPayload(f"{url}: zip64 archive without a locator", url=url)
    (eocd64_offset,) = struct.unpack("<Q", tail[at + 8 : at + 16])
    if eocd64_offset >= tail_start:
        record = tail[eocd64_offset - tail_start : eocd64_offset - tail_start + 56]
    else:
        record = (await http.get_range(url, start=eocd64_offset, end=eocd64_offset + 55)).content
    if record[:4] != _ZIP64_EOCD:
        raise MalformedPayload(f"{url}: bad zip64 end-of-central-directory record", url=url)
    cd_size, cd_offset = struct.unpack("<QQ", record[40:56])
    return cd_offset, cd_size


def _parse_central_directory(directory: bytes, url: str, max_entries: int) -> list[str]:
    names: list[str] = []
    pos = 0
    while pos + 46 <= len(directory) and directory[pos : pos + 4] == _CENTRAL:
        flags = struct.unpack("<H", directory[pos + 8 : pos + 10])[0]
        name_len, extra_len, comment_len = struct.unpack("<3H", directory[pos + 28 : pos + 34])
        raw = directory[pos + 46 : pos + 46 + name_len]
        names.append(raw.decode("utf-8" if flags & 0x800 else "cp437", errors="replace"))
        if len(names) >= max_entries:
            break
        pos += 46 + name_len + extra_len + comment_len
    if not names and directory:
        raise MalformedPayload(f"{url}: unreadable zip central directory", url=url)
    return names


def tar_member_names(data: bytes, *, max_entries: int = 50_000) -> list[str]:
    """Member names of a (gzipped) tarball held in memory, streamed without extracting."""
    names: list[str] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as archive:
            for member in archive:
                names.append(member.name)
                if len(names) >= max_entries:
                    break
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise MalformedPayload(f"unreadable tar archive ({exc})") from exc
    return names


def top_level_prefixes(packages: Iterable[str]) -> list[str]:
    """Reduce dotted package names to their top-most prefixes (org.foo.bar, org.foo -> org.foo)."""
    result: list[str] = []
    for name in sorted(set(packages), key=lambda p: (p.count("."), p)):
        if not any(name == kept or name.startswith(kept + ".") for kept in result):
            result.append(name)
    return sorted(result)
