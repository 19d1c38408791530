"""The HTTP layer's revalidation cache: validators (ETag, Last-Modified) and the body they vouch
for, kept per URL and variant in a diskcache directory, so a conditional GET can be answered by a
304 (docs/configuration.md, SSC_CACHE_DIR)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import diskcache

from ssc_cli.settings import cache_dir_error

SIZE_LIMIT = 8 * 1024**3
# Stored entries are written in one transaction per this many, or once the oldest has waited
# this long: diskcache commits one transaction per `set`, and its BEGIN/COMMIT were most of a
# stored response's cost, about a twentieth of a PyPI ingest's CPU (issue 16).
WRITE_EVERY = 32
WRITE_BYTES = 4 * 1024**2  # bodies held in memory: a few large packuments write at once
WRITE_WITHIN_SECONDS = 2.0


class ResponseCache:
    """Validators and bodies by (URL, variant); a variant is the Accept header or, for a body
    streamed to a file, that file (its bytes stay in the file, not in the cache).

    Entries stored are held in memory (and answered from there) until a batch of them is
    written, at most WRITE_EVERY entries (or WRITE_BYTES of bodies) or WRITE_WITHIN_SECONDS
    later, and on close: a run
    that dies loses at most that many validators, so those URLs are fetched whole once more."""

    def __init__(self, directory: Path) -> None:
        try:
            self._cache = diskcache.Cache(str(directory), size_limit=SIZE_LIMIT)
        except OSError as exc:  # a file where the directory goes, read-only, full
            raise cache_dir_error(directory, exc) from None
        self._pending: dict[str, dict[str, Any]] = {}
        self._pending_bytes = 0
        self._write_by = 0.0

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._cache.close()

    def flush(self) -> None:
        """Write the entries held in memory, in one transaction."""
        if not self._pending:
            return
        pending, self._pending, self._pending_bytes = self._pending, {}, 0
        with self._cache.transact():
            for key, entry in pending.items():
                self._cache.set(key, entry)

    @staticmethod
    def _key(url: str, variant: str) -> str:
        return f"{url}\n{variant}"

    def lookup(self, url: str, variant: str) -> dict[str, Any] | None:
        """The stored entry (etag, last_modified, headers, content), or None."""
        key = self._key(url, variant)
        value = self._pending.get(key)
        if value is None:
            value = self._cache.get(key)
        return value if isinstance(value, dict) else None

    def store(
        self, url: str, variant: str, headers: Mapping[str, str], content: bytes = b""
    ) -> None:
        """Keep a 200's validators and body; a response without validators is not kept."""
        etag, last_modified = headers.get("etag"), headers.get("last-modified")
        if not etag and not last_modified:
            return
        entry = {
            "etag": etag,
            "last_modified": last_modified,
            "headers": dict(headers),
            "content": content,
        }
        if not self._pending:
            self._write_by = time.monotonic() + WRITE_WITHIN_SECONDS
        self._pending[self._key(url, variant)] = entry
        self._pending_bytes += len(content)
        if (
            len(self._pending) >= WRITE_EVERY
            or self._pending_bytes >= WRITE_BYTES
            or time.monotonic() >= self._write_by
        ):
            self.flush()

    def forget(self, url: str, variant: str) -> None:
        key = self._key(url, variant)
        self._pending.pop(key, None)
        self._cache.delete(key)


def variant_of(headers: Mapping[str, str]) -> str:
    """The part of a request's headers that selects a different body for the same URL."""
    return headers.get("Accept") or ""


def conditional_headers(entry: Mapping[str, Any]) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from a stored entry's validators."""
    headers = {}
    if entry.get("etag"):
        headers["If-None-Match"] = entry["etag"]
    if entry.get("last_modified"):
        headers["If-Modified-Since"] = entry["last_modified"]
    return headers
