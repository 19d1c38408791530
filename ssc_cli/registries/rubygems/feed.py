"""The `/versions` change feed: byte-offset cursor, Range appends verified by the published digest.

`/versions` is append-only within a month and rebuilt at the start of each month
(registries.md §6.2). Like Bundler we keep a local copy of the bytes the cursor covers, so the
digest of the whole file (`Repr-Digest: sha-256=:…:`, covering the file, not the range) can be
checked as hash(local prefix + appended part). The cursor stores the SHA-256 of that prefix: a
local copy that is missing, shorter or different (wiped data dir, another graph) is detected and
costs a full refetch, never a wrong answer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssc_cli.errors import MalformedPayload
from ssc_cli.http import Http, HttpResponse
from ssc_cli.registries.rubygems.compact_index import (
    VersionsIndex,
    VersionsLine,
    parse_versions_lines,
    split_header,
)

log = logging.getLogger(__name__)

_FEED_STATUSES = frozenset({200, 206, 304, 416})
# Bytes of the file's start compared when the server publishes no digest.
_HEAD_BYTES = 4096


@dataclass(slots=True)
class FeedCursor:
    """Where the last update stopped in `/versions` (saved as the `update` cursor)."""

    url: str
    offset: int  # bytes of the file consumed, always at a line boundary
    sha256: str  # hex digest of those bytes
    created_at: str | None  # the file's header: changes when the file is rebuilt (monthly)
    etag: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "versions_offset",
            "url": self.url,
            "offset": self.offset,
            "sha256": self.sha256,
            "created_at": self.created_at,
            "etag": self.etag,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> FeedCursor | None:
        """A cursor written by this module, or None for anything else (then: full reconcile)."""
        if not data or data.get("kind") != "versions_offset":
            return None
        try:
            return cls(
                url=str(data["url"]),
                offset=int(data["offset"]),
                sha256=str(data["sha256"]),
                created_at=data.get("created_at"),
                etag=data.get("etag"),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(slots=True)
class FullFile:
    """The whole `/versions` file, replayed."""

    index: VersionsIndex
    cursor: FeedCursor
    created_at: str | None


@dataclass(slots=True)
class Appended:
    """Lines appended since a cursor (possibly none)."""

    lines: list[VersionsLine]
    cursor: FeedCursor
    notes: dict[str, Any] = field(default_factory=dict)


def parse_digest(headers: dict[str, str] | Any) -> bytes | None:
    """The SHA-256 the server published for the whole file (`Repr-Digest`, or legacy `Digest`)."""
    lowered = {str(k).lower(): str(v) for k, v in dict(headers).items()}
    value = lowered.get("repr-digest")
    if value:  # RFC 9530 dictionary: sha-256=:BASE64:, sha-512=:…:
        for item in value.split(","):
            key, eq, raw = item.strip().partition("=")
            if eq and key.strip().lower() == "sha-256":
                return _b64(raw.strip().strip(":"))
    value = lowered.get("digest")
    if value:  # RFC 3230: SHA-256=BASE64
        for item in value.split(","):
            key, eq, raw = item.strip().partition("=")
            if eq and key.strip().lower() == "sha-256":
                return _b64(raw.strip())
    return None


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


class LocalCopy:
    """The bytes of `/versions` this machine holds, written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read_prefix(self, cursor: FeedCursor) -> bytes | None:
        """The first cursor.offset bytes if they are exactly what the cursor describes."""
        try:
            with self.path.open("rb") as handle:
                data = handle.read(cursor.offset)
        except OSError:
            return None
        if len(data) != cursor.offset or hashlib.sha256(data).hexdigest() != cursor.sha256:
            return None
        return data

    def write(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, self.path)


class VersionsFeed:
    """Reads `/versions` in full or from a cursor, keeping the local copy in step."""

    def __init__(self, http: Http, url: str, local: LocalCopy) -> None:
        self.http = http
        self.url = url
        self.local = local

    async def full(self) -> FullFile:
        """Fetch, verify and replay the whole file; the local copy becomes this file."""
        attempt = 0
        while True:
            response = await self.http.get(self.url)
            data = response.content
            expected = parse_digest(response.headers)
            if expected is None or hashlib.sha256(data).digest() == expected:
                break
            if attempt >= self.http.config.retries:
                raise MalformedPayload(
                    f"{self.url}: body does not match its Repr-Digest after {attempt + 1} "
                    "attempts; a proxy may be altering it",
                    url=self.url,
                )
            attempt += 1
            self.http.counters.retries += 1
        header, start = split_header(data, self.url)
        end = data.rfind(b"\n") + 1  # a torn last line is read again next time
        end = max(end, start)
        body = data[start:end].decode("utf-8", errors="replace")
        index = VersionsIndex().extend(parse_versions_lines(body, self.url))
        self.local.write(data[:end])
        cursor = FeedCursor(
            url=self.url,
            offset=end,
            sha256=hashlib.sha256(data[:end]).hexdigest(),
            created_at=header.get("created_at"),
            etag=response.headers.get("etag") if end == len(data) else None,
        )
        return FullFile(index, cursor, header.get("created_at"))

    async def since(self, cursor: FeedCursor) -> Appended | str:
        """Lines appended after the cursor, or the reason a full refetch is needed."""
        if cursor.url != self.url:
            return "registry URL changed"
        if cursor.offset < 1:
            return "empty cursor"
        prefix = self.local.read_prefix(cursor)
        if prefix is None:
            return "no local copy matching the cursor"
        # One byte before the offset: the answer is never empty (no 416 when nothing was
        # appended) and that byte must still be the newline we stopped at.
        headers = {"Range": f"bytes={cursor.offset - 1}-", "Accept-Encoding": "identity"}
        if cursor.etag:
            headers["If-None-Match"] = cursor.etag
        response = await self.http.get(self.url, headers=headers, ok=_FEED_STATUSES)
        if response.status == 304:
            return Appended([], cursor, {"mode": "unchanged"})
        if response.status == 416:
            return "416: the file is shorter than the cursor (rebuilt)"
        if response.status == 200:
            return "the server ignored the Range request"
        return await self._append(cursor, prefix, response)

    async def _append(
        self, cursor: FeedCursor, prefix: bytes, response: HttpResponse
    ) -> Appended | str:
        start = _range_start(response.headers.get("content-range", ""))
        body = response.content
        if start != cursor.offset - 1 or body[:1] != b"\n":
            return "the byte before the cursor is no longer a line end (file rebuilt)"
        appended = body[1:]
        whole = prefix + appended
        expected = parse_digest(response.headers)
        if expected is not None and hashlib.sha256(whole).digest() != expected:
            return "digest mismatch after appending (file rebuilt or corrupted)"
        if expected is None and not await self._same_head(prefix):
            return "the head of the file changed (rebuilt; no digest published)"
        end = appended.rfind(b"\n") + 1
        consumed = appended[:end]
        try:
            lines = list(parse_versions_lines(consumed.decode("utf-8", errors="replace"), self.url))
        except MalformedPayload as exc:
            return f"appended part does not parse ({exc})"
        new_offset = cursor.offset + end
        if end:
            self.local.write(whole[:new_offset])
        new_cursor = FeedCursor(
            url=self.url,
            offset=new_offset,
            sha256=hashlib.sha256(whole[:new_offset]).hexdigest() if end else cursor.sha256,
            created_at=cursor.created_at,
            etag=response.headers.get("etag") if end == len(appended) else None,
        )
        notes = {
            "mode": "append",
            "appended_bytes": end,
            "lines": len(lines),
            "digest": "verified" if expected is not None else "absent",
        }
        return Appended(lines, new_cursor, notes)

    async def _same_head(self, prefix: bytes) -> bool:
        """Without a published digest: is the start of the file (its `created_at` header and
        first lines) still what we hold? A monthly rebuild changes it."""
        size = min(len(prefix), _HEAD_BYTES)
        headers = {"Range": f"bytes=0-{size - 1}", "Accept-Encoding": "identity"}
        response = await self.http.get(self.url, headers=headers, ok=frozenset({200, 206}))
        return response.content[:size] == prefix[:size]


def _range_start(content_range: str) -> int | None:
    """First byte of a `Content-Range: bytes A-B/N` header."""
    try:
        spec = content_range.split(" ", 1)[1]
        return int(spec.split("-", 1)[0])
    except (IndexError, ValueError):
        return None
