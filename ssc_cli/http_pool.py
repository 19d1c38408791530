"""httpcore's connection pool with an assignment pass linear in its connections (issue 16).

httpcore 1.0's `AsyncConnectionPool._assign_requests_to_connections` runs on every request's
start and end and, each time, asks every pooled connection whether it has expired (a `poll()` of
every idle socket through anyio's per-call attribute table) and, for each idle one, counts every
connection again: quadratic in the pool's size. At 48 requests in flight that bookkeeping was
over half of a bulk ingest's CPU (docs/scale.md §3). Upstream: encode/httpcore#1035 (open),
pydantic/httpx2#974 and #1075 (the same fix in a fork).

`LinearPool` keeps what the pass guarantees and drops its repeated scans:

* a connection is never handed to a request once it has expired (keep-alive timed out, or the
  server closed the idle socket): each candidate is checked before it is assigned;
* idle connections beyond `max_keepalive_connections` are closed, oldest first; expired idle
  ones are swept from the whole pool, and closed ones dropped from it, at most every
  `SWEEP_SECONDS` instead of on every pass, or on every pass while the pool is full enough
  for them to matter (a pass then costs a look at the requests and at connections until one
  is free);
* an idle HTTP/1.1 connection already assigned to a request that has not started on it yet is
  not handed to a second request (which only failed with ConnectionNotAvailable and retried,
  another pass each) nor closed as surplus (encode/httpcore#1110).

`fast_locks` makes httpcore's asyncio locks (a connection's request lock, an HTTP/1.1
connection's state lock: six acquisitions per request) anyio locks with `fast_acquire`: a free
lock is taken without first yielding to the event loop. Mutual exclusion is the same; what goes
is one pass of the event loop (an `epoll` call and the loop's bookkeeping) per acquisition, which
at PyPI's default of 10 in flight, where a pass rarely serves another request, was a tenth of
a request's CPU (issue 16).

Only this module and http.py touch the HTTP stack. `install` leaves the stock pool in place when
the installed httpcore is not the 1.0 series this was written against, and `fast_locks` the stock
locks when anyio's Lock has no `fast_acquire` (anyio < 4.5).
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import anyio
import httpcore
from httpcore import _synchronization

SWEEP_SECONDS = 1.0


class LinearPool(httpcore.AsyncConnectionPool):
    """An AsyncConnectionPool whose assignment pass costs O(connections + queued requests)."""

    _next_sweep: float = 0.0

    def _assign_requests_to_connections(self) -> list[Any]:
        closing: list[Any] = []
        queued = [request for request in self._requests if request.connection is None]
        now = time.monotonic()
        sweep = now >= self._next_sweep
        # Closed connections only matter once they could fill the pool, idle ones once they
        # could exceed the keep-alive allowance; until then a pass is the queued requests alone.
        crowded = len(self._connections) >= min(
            self._max_keepalive_connections + 1, self._max_connections
        )
        if not (queued or sweep or crowded):
            return closing
        reserved = {
            id(request.connection) for request in self._requests if request.connection is not None
        }
        if sweep:
            self._next_sweep = now + SWEEP_SECONDS
        if sweep or crowded:
            self._tidy(reserved, sweep, closing)
        for pool_request in queued:
            origin = pool_request.request.url.origin
            connection = self._available(origin, reserved, closing)
            if connection is None and len(self._connections) >= self._max_connections:
                spare = self._spare_idle(reserved)
                if spare is None:
                    continue  # the request waits for a connection to come free
                self._connections.remove(spare)
                closing.append(spare)
            if connection is None:
                connection = self.create_connection(origin)
                self._connections.append(connection)
            pool_request.assign_to_connection(connection)
            if not connection.is_available() or connection.is_idle():
                reserved.add(id(connection))
        return closing

    def _tidy(self, reserved: set[int], sweep: bool, closing: list[Any]) -> None:
        """Drop closed connections; close expired idle ones (on a sweep) and surplus idle ones."""
        kept: list[Any] = []
        idle = 0
        for connection in self._connections:
            if connection.is_closed():
                continue
            free = id(connection) not in reserved
            if free and sweep and connection.has_expired():
                closing.append(connection)
                continue
            kept.append(connection)
            if free and connection.is_idle():
                idle += 1
        surplus = idle - self._max_keepalive_connections
        if surplus > 0:
            trimmed = []
            for connection in kept:
                if surplus > 0 and connection.is_idle() and id(connection) not in reserved:
                    closing.append(connection)
                    surplus -= 1
                else:
                    trimmed.append(connection)
            kept = trimmed
        self._connections = kept

    def _available(self, origin: Any, reserved: set[int], closing: list[Any]) -> Any:
        """The first unexpired connection that can take a request to origin now, or None."""
        for connection in list(self._connections):
            if id(connection) in reserved and connection.is_idle():
                continue  # promised to a request that has not started on it yet
            if not (connection.can_handle_request(origin) and connection.is_available()):
                continue
            if connection.has_expired():
                self._connections.remove(connection)
                closing.append(connection)
                continue
            return connection
        return None

    def _spare_idle(self, reserved: set[int]) -> Any:
        for connection in self._connections:
            if connection.is_idle() and id(connection) not in reserved:
                return connection
        return None


def install(pool: object) -> bool:
    """Make an httpx transport's stock pool a LinearPool in place (same settings, same state)."""
    if (
        not httpcore.__version__.startswith("1.0.")
        or type(pool) is not httpcore.AsyncConnectionPool
    ):
        return False
    pool.__class__ = LinearPool
    return True


def _setup_fast(lock: Any) -> None:
    """httpcore's AsyncLock.setup, with anyio's fast-acquire lock on asyncio."""
    _stock_setup(lock)
    if lock._backend == "asyncio":
        lock._anyio_lock = anyio.Lock(fast_acquire=True)


_stock_setup = _synchronization.AsyncLock.setup


def fast_locks() -> bool:
    """Make every httpcore AsyncLock set up from now on a fast-acquire anyio lock (idempotent)."""
    lock_type = _synchronization.AsyncLock
    if lock_type.setup is _setup_fast:
        return True
    if (
        not httpcore.__version__.startswith("1.0.")
        or "fast_acquire" not in inspect.signature(anyio.Lock).parameters
    ):
        return False
    lock_type.setup = _setup_fast  # type: ignore[method-assign,assignment]
    return True
