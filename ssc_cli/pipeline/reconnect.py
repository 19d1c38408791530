"""drain-queue through a Redis outage: each stream command is retried with backoff, for a while.

A worker's connection drops when Redis restarts, fails over or the network blips. The client
reconnects on the next command, so retrying the command is the reconnection; only an outage
longer than SSC_QUEUE_RECONNECT_SECONDS ends the worker (QueueUnavailable, exit 5). Retrying is
safe: reads hand over what is pending again, an ack is idempotent, a dead letter is written only
by the XACK that settles its entry (never twice), and a dependency queued twice is harmless. A
stop ends the waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from ssc_cli.errors import QueueUnavailable
from ssc_cli.pipeline.drain import Queue
from ssc_cli.pipeline.stop import Stop
from ssc_cli.queue.message import ExtractionMessage
from ssc_cli.queue.stream import DeadLetter, Entry

log = logging.getLogger(__name__)

T = TypeVar("T")

_FIRST_DELAY, _MAX_DELAY = 0.5, 15.0


class ReconnectingQueue:
    """A Queue whose commands survive a Redis outage of up to `window` seconds."""

    def __init__(self, inner: Queue, window: float, stop: Stop | None = None) -> None:
        self.inner = inner
        self.window = window
        self.stop = stop or Stop()
        self.outages = 0  # outages ridden out, for the log

    async def _call(self, what: str, command: Callable[[], Awaitable[T]]) -> T:
        started: float | None = None
        delay = _FIRST_DELAY
        while True:
            try:
                result = await command()
            except QueueUnavailable as exc:
                now = time.monotonic()
                started = now if started is None else started
                waited = now - started
                if waited + delay > self.window or self.stop.requested:
                    if started != now:
                        raise QueueUnavailable(
                            f"{exc} (still down after {waited:.0f}s of reconnecting; "
                            "SSC_QUEUE_RECONNECT_SECONDS)"
                        ) from exc
                    raise
                log.warning("Redis failed while %s; reconnecting in %.1fs: %s", what, delay, exc)
                # Entries handed over before the drop may have been claimed meanwhile; the
                # group itself may be gone (a restart without persistence): start afresh.
                forget = getattr(self.inner, "forget_group", None)
                if callable(forget):
                    forget()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
                delay = min(_MAX_DELAY, delay * 2)
                continue
            if started is not None:
                self.outages += 1
                log.warning("Redis is back after %.1fs", time.monotonic() - started)
            return result

    async def read(self, count: int, block_ms: int) -> list[Entry]:
        return await self._call("reading the stream", lambda: self.inner.read(count, block_ms))

    async def ack(self, ids: Sequence[str]) -> int:
        return await self._call("acknowledging entries", lambda: self.inner.ack(ids))

    async def dead_letter(self, letters: Sequence[DeadLetter]) -> int:
        return await self._call("writing dead letters", lambda: self.inner.dead_letter(letters))

    async def heartbeat(self, ids: Sequence[str]) -> None:
        # Not retried here: the batch's heartbeat task logs a failure and beats again later.
        await self.inner.heartbeat(ids)

    async def give_back(self, entries: Sequence[Entry]) -> None:
        await self._call("giving attempts back", lambda: self.inner.give_back(entries))

    async def drained(self) -> bool:
        return await self._call("reading the group state", self.inner.drained)

    async def trim(self) -> None:
        await self._call("trimming the stream", self.inner.trim)

    async def publish_discovered(
        self, messages: Sequence[ExtractionMessage], *, force: bool = False
    ) -> int:
        return await self._call(
            "queueing dependencies",
            lambda: self.inner.publish_discovered(messages, force=force),
        )

    async def leave(self) -> None:
        await self._call("leaving the group", self.inner.leave)
