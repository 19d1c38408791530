"""The connection pool under ssc's HTTP layer: linear bookkeeping, no reuse of a dead connection."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpcore
import pytest

from ssc_cli.http import Http, HttpConfig
from ssc_cli.http_pool import LinearPool
from tests.fakeregistry.server import FakeRegistry, Request, Response, json_response


class Ok:
    def handle(self, request: Request) -> Response:
        return json_response({"ok": True})


def config(tmp_path: Path, **kw: object) -> HttpConfig:
    base = HttpConfig(user_agent="ssc-test/1", rate_limits=False, cache_dir=tmp_path / "cache")
    for key, value in kw.items():
        setattr(base, key, value)
    return base


def test_the_installed_httpcore_gets_the_linear_pool(tmp_path: Path) -> None:
    """When httpcore leaves the 1.0 series this fails, so the override is looked at again."""

    async def go() -> bool:
        async with Http(config(tmp_path)) as http:
            return http.linear_pool and isinstance(http._client._transport._pool, LinearPool)  # type: ignore[attr-defined]

    assert asyncio.run(go())


def test_pool_bookkeeping_per_request_is_linear_in_its_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpcore 1.0's own pass asks every connection is_idle() once per idle connection (N² per
    request) and polls every idle socket; with 32 pooled connections that is over 2,000 calls
    a request, where a linear pass makes a few per connection."""
    calls = {"n": 0}
    conn = httpcore.AsyncHTTPConnection
    for method in ("is_idle", "has_expired", "is_closed", "is_available"):
        original = getattr(conn, method)

        def counted(self: object, _original: object = original) -> bool:
            calls["n"] += 1
            return _original(self)  # type: ignore[operator,no-any-return]

        monkeypatch.setattr(conn, method, counted)

    width = 32
    server = FakeRegistry(latency=0.05).start()
    server.mount("ok", Ok())

    async def go() -> tuple[int, int]:
        async with Http(config(tmp_path, concurrency_override=width)) as http:
            url = server.url("ok") + "/x"
            await asyncio.gather(*(http.get(url) for _ in range(width)))
            pooled = len(http._client._transport._pool.connections)  # type: ignore[attr-defined]
            calls["n"] = 0
            for _ in range(20):
                await http.get(url)
            return pooled, calls["n"]

    try:
        pooled, counted_calls = asyncio.run(go())
    finally:
        server.stop()
    assert pooled == width
    assert counted_calls / 20 < 8 * width


class _ClosesAfterEachResponse(BaseHTTPRequestHandler):
    """Answers as if keeping the connection alive (no Connection: close), then closes it."""

    protocol_version = "HTTP/1.1"
    connections: set[tuple[str, int]] = set()

    def do_GET(self) -> None:
        self.connections.add(self.client_address)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def closing_server() -> Iterator[ThreadingHTTPServer]:
    _ClosesAfterEachResponse.connections = set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ClosesAfterEachResponse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_connection_the_server_closed_is_never_reused(
    tmp_path: Path, closing_server: ThreadingHTTPServer
) -> None:
    """The idle socket is checked before it is handed out: no request is sent on a dead one
    (which would fail with 'server disconnected' and cost a retry)."""
    url = f"http://127.0.0.1:{closing_server.server_address[1]}/x"

    async def go() -> int:
        async with Http(config(tmp_path, retries=0)) as http:
            for _ in range(5):
                await http.get(url)
                await asyncio.sleep(0.05)  # the server's close reaches the client
            return http.counters.retries

    assert asyncio.run(go()) == 0
    assert len(_ClosesAfterEachResponse.connections) == 5


def test_httpcore_locks_are_taken_without_a_pass_of_the_event_loop(tmp_path: Path) -> None:
    """A free httpcore lock is taken at once (anyio's fast_acquire), not after yielding to the
    event loop (issue 16); a held one still excludes, and waiters get it in turn."""
    from httpcore import _synchronization

    async def go() -> tuple[bool, list[int], list[str]]:
        async with Http(config(tmp_path)) as http:
            installed = http.fast_locks
        lock = _synchronization.AsyncLock()
        ran: list[int] = []
        asyncio.get_running_loop().call_soon(ran.append, 1)  # runs on the loop's next pass
        async with lock:
            before = list(ran)
        order: list[str] = []

        async def hold(name: str) -> None:
            async with lock:
                order.append(f"{name} in")
                await asyncio.sleep(0.01)
                order.append(f"{name} out")

        await asyncio.gather(hold("a"), hold("b"))
        return installed, before, order

    installed, before, order = asyncio.run(go())
    assert installed
    assert before == []  # stock anyio locks yield first, and the callback would have run
    assert order == ["a in", "a out", "b in", "b out"]
