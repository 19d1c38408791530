"""A fake package registry over real HTTP on 127.0.0.1, with latency and faults on demand.

Each ecosystem is an `App` mounted under a path prefix (`/pypi`, `/npm`, ...); ssc is pointed at
`server.url("pypi")` through its settings, exactly as at a mirror. The server speaks real HTTP:
ETag/If-None-Match (304), Range (206), redirects, and the faults a registry really produces.
"""

from __future__ import annotations

import hashlib
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit


@dataclass
class Request:
    """What an app sees of a request: path below its prefix, query, headers."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    base_url: str  # e.g. http://127.0.0.1:PORT/pypi: lets apps build absolute URLs


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    etag: bool = True  # answer If-None-Match with 304
    ranges: bool = True  # honour Range


def json_response(data: object, status: int = 200, **kw: object) -> Response:
    import json

    return Response(status, json.dumps(data).encode(), **kw)  # type: ignore[arg-type]


NOT_FOUND = Response(404, b'{"message": "Not Found"}')


class App(Protocol):
    def handle(self, request: Request) -> Response: ...


@dataclass
class Faults:
    """Fault probabilities per request, decided by a seeded generator."""

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_timeout: float = 0.0
    rate_malformed: float = 0.0
    rate_truncated: float = 0.0
    rate_reset: float = 0.0  # the connection is reset (RST) before any byte of an answer
    retry_after: int = 0
    timeout_seconds: float = 2.0
    seed: int = 1234
    # Only requests whose path matches are subject to faults (default: all).
    only: str | None = None
    # Paths that always answer this status (a package whose registry is broken).
    always: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self.drawn: dict[str, int] = {}  # faults served so far, by kind

    @classmethod
    def soak(
        cls, seed: int = 1234, *, retry_after: int = 0, timeout_seconds: float = 2.0
    ) -> Faults:
        """The mix of issue 15: 10 % 429 (with Retry-After), 5 % 500, 2 % resets or timeouts,
        1 % truncated or garbled bodies; which request gets which is decided by the seed."""
        return cls(
            rate_429=0.10,
            rate_500=0.05,
            rate_reset=0.01,
            rate_timeout=0.01,
            rate_truncated=0.005,
            rate_malformed=0.005,
            retry_after=retry_after,
            timeout_seconds=timeout_seconds,
            seed=seed,
        )

    def draw(self, path: str) -> str | None:
        for pattern in self.always:
            if re.search(pattern, path):
                return "always"
        if self.only is not None and not re.search(self.only, path):
            return None
        with self._lock:
            x = self._rng.random()
        for name, rate in (
            ("429", self.rate_429),
            ("500", self.rate_500),
            ("timeout", self.rate_timeout),
            ("malformed", self.rate_malformed),
            ("truncated", self.rate_truncated),
            ("reset", self.rate_reset),
        ):
            if x < rate:
                with self._lock:
                    self.drawn[name] = self.drawn.get(name, 0) + 1
                return name
            x -= rate
        return None


class _Server(ThreadingHTTPServer):
    """Quiet about clients hanging up (our own timeout faults), with a deep listen backlog."""

    # The default listen backlog (5) overflows when a client opens more connections at once;
    # the dropped SYNs are retried by the kernel after 1 s, which shows up as 1 s stalls.
    request_queue_size = 128

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resets: set[int] = set()  # file descriptors to close with a RST, not a FIN
        self.resets_lock = threading.Lock()

    def shutdown_request(self, request: Any) -> None:
        with self.resets_lock:
            reset = request.fileno() in self.resets
            self.resets.discard(request.fileno())
        if reset:
            # SO_LINGER 0 and no shutdown(): close() sends a RST, as a crashed peer's kernel does.
            request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_request(request)
            return
        super().shutdown_request(request)

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, TimeoutError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeRegistry:
    """The server: start() in a thread, mount apps, point ssc at url(prefix)."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        faults: Faults | None = None,
        latency_max: float | None = None,
        keep_log: bool = True,
    ) -> None:
        self.apps: dict[str, App] = {}
        self.latency = latency
        # With latency_max, each request waits uniformly between latency and latency_max.
        self.latency_max = latency_max
        # Off for long benchmarks: the log would hold one tuple per request.
        self.keep_log = keep_log
        self.faults = faults or Faults()
        self.log: list[tuple[str, str, int]] = []  # (method, path, status)
        self.in_flight = 0
        self.max_in_flight = 0
        # Cleared, every request waits (counted in in_flight) until it is set again: a test can
        # hold a run in the middle of its work for as long as it needs, with no wall-clock margin.
        self.answering = threading.Event()
        self.answering.set()
        self._log_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def mount(self, prefix: str, app: App) -> App:
        self.apps[prefix.strip("/")] = app
        return app

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake registry first"
        return self._server.server_address[1]

    def url(self, prefix: str = "") -> str:
        base = f"http://127.0.0.1:{self.port}"
        return f"{base}/{prefix.strip('/')}" if prefix else base

    def start(self, port: int = 0) -> FakeRegistry:
        registry = self

        class Handler(_Handler):
            owner = registry

        self._server = _Server(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeRegistry:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests(self, pattern: str = "") -> list[tuple[str, str, int]]:
        """Logged requests whose path matches pattern."""
        with self._log_lock:
            return [entry for entry in self.log if re.search(pattern, entry[1])]

    def clear_log(self) -> None:
        with self._log_lock:
            self.log.clear()

    def _record(self, method: str, path: str, status: int) -> None:
        if not self.keep_log:
            return
        with self._log_lock:
            self.log.append((method, path, status))


class _Handler(BaseHTTPRequestHandler):
    owner: FakeRegistry
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: with Nagle on, the delayed ACK of the client
    # costs ~40 ms per request, which dwarfs everything a benchmark wants to measure.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def _serve(self, method: str) -> None:
        owner = self.owner
        with owner._log_lock:
            owner.in_flight += 1
            owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
        try:
            self._serve_counted(method)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout fault): nothing to answer
        finally:
            with owner._log_lock:
                owner.in_flight -= 1

    def _serve_counted(self, method: str) -> None:
        owner = self.owner
        owner.answering.wait(timeout=300)
        if owner.latency_max is not None:
            time.sleep(random.uniform(owner.latency, owner.latency_max))
        elif owner.latency:
            time.sleep(owner.latency)
        parts = urlsplit(self.path)
        fault = owner.faults.draw(parts.path)
        if fault == "always":
            status = next(s for p, s in owner.faults.always.items() if re.search(p, parts.path))
            headers = {"Retry-After": str(owner.faults.retry_after)} if status == 429 else {}
            return self._send(method, parts.path, Response(status, b"broken", headers), None)
        if fault == "429":
            headers = {"Retry-After": str(owner.faults.retry_after)}
            return self._send(method, parts.path, Response(429, b"slow down", headers), None)
        if fault == "500":
            return self._send(method, parts.path, Response(500, b"oops"), None)
        if fault == "reset":
            server = self.server
            assert isinstance(server, _Server)
            with server.resets_lock:
                server.resets.add(self.connection.fileno())
            owner._record(method, parts.path, 0)
            self.close_connection = True
            return None
        if fault == "timeout":
            time.sleep(owner.faults.timeout_seconds)
        response = self._dispatch(method, parts.path, parts.query)
        if fault in ("malformed", "truncated") and response.status == 200:
            return self._send(method, parts.path, response, fault)
        return self._send(method, parts.path, response, None)

    def _dispatch(self, method: str, path: str, query: str) -> Response:
        prefix, _, rest = path.lstrip("/").partition("/")
        app = self.owner.apps.get(prefix)
        if app is None:
            return NOT_FOUND
        request = Request(
            method,
            "/" + rest,
            query,
            {k.lower(): v for k, v in self.headers.items()},
            f"http://127.0.0.1:{self.owner.port}/{prefix}",
        )
        try:
            return app.handle(request)
        except Exception as exc:  # a bug in a fake app must show up as a 500, not hang
            return Response(500, f"fake registry app error: {exc!r}".encode())

    def _send(self, method: str, path: str, response: Response, fault: str | None) -> None:
        body = response.body
        status = response.status
        headers = dict(response.headers)
        headers.setdefault("Content-Type", response.content_type)
        if status == 200 and response.etag:
            tag = '"' + hashlib.sha1(body).hexdigest() + '"'
            headers["ETag"] = tag
            if self.headers.get("If-None-Match") == tag and fault is None:
                status, body = 304, b""
        range_header = self.headers.get("Range")
        if status == 200 and response.ranges and range_header and fault is None:
            status, body, headers = _apply_range(range_header, body, headers)
        if fault == "malformed":
            body = body[: max(1, len(body) // 3)] + b"\x00<garbage"
        self.owner._record(method, path, status)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if fault == "truncated":
            self.send_header("Connection", "close")
        self.end_headers()
        if method == "HEAD":
            return
        if fault == "truncated":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


def _apply_range(
    spec: str, body: bytes, headers: dict[str, str]
) -> tuple[int, bytes, dict[str, str]]:
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", spec.strip())
    size = len(body)
    if not match or (not match.group(1) and not match.group(2)):
        return 200, body, headers
    if not match.group(1):
        start = max(0, size - int(match.group(2)))
        end = size - 1
    else:
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else size - 1
    if start >= size:
        headers["Content-Range"] = f"bytes */{size}"
        return 416, b"", headers
    end = min(end, size - 1)
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return 206, body[start : end + 1], headers
