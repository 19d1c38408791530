"""The revalidation cache (ssc_cli/http_cache.py): entries are written in batches (issue 16)."""

from __future__ import annotations

from pathlib import Path

import diskcache
import pytest

from ssc_cli import http_cache
from ssc_cli.http_cache import ResponseCache

HEADERS = {"etag": '"v1"', "content-type": "application/json"}


def _begins(cache: ResponseCache) -> list[str]:
    """The transactions the cache's SQLite connection opens from now on."""
    statements: list[str] = []
    cache._cache._con.set_trace_callback(statements.append)
    return statements


def _on_disk(directory: Path, url: str) -> object:
    with diskcache.Cache(str(directory)) as other:
        return other.get(f"{url}\n")


def test_a_batch_of_stored_responses_is_one_transaction(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    statements = _begins(cache)
    urls = [f"http://registry/p{i}/json" for i in range(http_cache.WRITE_EVERY)]
    for url in urls[:-1]:
        cache.store(url, "", HEADERS, b"{}")
    assert _on_disk(tmp_path, urls[0]) is None  # held in memory ...
    assert cache.lookup(urls[0], "") == {  # ... and answered from there
        "etag": '"v1"',
        "last_modified": None,
        "headers": HEADERS,
        "content": b"{}",
    }
    cache.store(urls[-1], "", HEADERS, b"{}")
    assert sum(s.startswith("BEGIN") for s in statements) == 1
    assert all(_on_disk(tmp_path, url) is not None for url in urls)
    cache.close()


def test_held_entries_are_written_on_close_and_forget_drops_them(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    cache.store("http://registry/kept", "", HEADERS, b"1")
    cache.store("http://registry/bad", "", HEADERS, b"2")
    cache.forget("http://registry/bad", "")
    assert cache.lookup("http://registry/bad", "") is None
    cache.close()
    again = ResponseCache(tmp_path)
    assert again.lookup("http://registry/kept", "")["content"] == b"1"  # type: ignore[index]
    assert again.lookup("http://registry/bad", "") is None
    again.close()


def test_entries_wait_in_memory_only_so_long_or_so_large(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [100.0]
    monkeypatch.setattr(http_cache.time, "monotonic", lambda: now[0])
    cache = ResponseCache(tmp_path)
    cache.store("http://registry/first", "", HEADERS, b"1")
    now[0] += http_cache.WRITE_WITHIN_SECONDS
    cache.store("http://registry/later", "", HEADERS, b"2")
    assert _on_disk(tmp_path, "http://registry/first") is not None
    assert _on_disk(tmp_path, "http://registry/later") is not None
    cache.store("http://registry/big", "", HEADERS, b"x" * http_cache.WRITE_BYTES)
    assert _on_disk(tmp_path, "http://registry/big") is not None
    cache.close()


def test_closing_the_http_layer_writes_held_entries_even_when_its_client_fails_to_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from ssc_cli.http import Http, HttpConfig

    async def broken(self: object) -> None:
        raise RuntimeError("transport already torn down")

    async def go() -> None:
        http = Http(HttpConfig(user_agent="ssc-test/1", cache_dir=tmp_path))
        assert http._cache is not None
        http._cache.store("http://registry/kept", "", HEADERS, b"1")
        monkeypatch.setattr(type(http._client), "aclose", broken)
        with pytest.raises(RuntimeError):
            await http.aclose()

    asyncio.run(go())
    assert _on_disk(tmp_path, "http://registry/kept") is not None
