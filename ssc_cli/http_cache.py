"""The HTTP layer's revalidation cache: validators (ETag, Last-Modified) and the body they vouch
for, kept per URL and variant in a diskcache directory, so a conditional GET can be answered by a
304 (docs/configuration.md, SSC_CACHE_DIR)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import diskcache

from ssc_cli.settings import cache_dir_error

SIZE_LIMIT = 8 * 1024**3


class ResponseCache:
    """Validators and bodies by (URL, variant); a variant is the Accept header or, for a body
    streamed to a file, that file (its bytes stay in the file, not in the cache)."""

    def __init__(self, directory: Path) -> None:
        try:
            self._cache = diskcache.Cache(str(directory), size_limit=SIZE_LIMIT)
        except OSError as exc:  # a file where the directory goes, read-only, full
            raise cache_dir_error(directory, exc) from None

    def close(self) -> None:
        self._cache.close()

    @staticmethod
    def _key(url: str, variant: str) -> str:
        return f"{url}\n{variant}"

    def lookup(self, url: str, variant: str) -> dict[str, Any] | None:
        """The stored entry (etag, last_modified, headers, content), or None."""
        value = self._cache.get(self._key(url, variant))
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
        self._cache.set(self._key(url, variant), entry)

    def forget(self, url: str, variant: str) -> None:
        self._cache.delete(self._key(url, variant))


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
