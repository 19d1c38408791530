"""Stopping a long job cleanly on SIGTERM or SIGINT: one flag that the job's loops check.

How a long command uses it (ingest, update, rebuild, drain-queue, and any new one):

    with stop_on_signals(grace=settings.stop_grace) as stop:    # the CLI, around the job
        summary = await run_the_job(..., stop=stop)              # the pipeline

    for batch in batches:                                        # the pipeline's loop
        if stop.requested:
            summary.stopped = stop.reason                        # "signal"
            break
        write(batch)                                             # one transaction per batch
    # commit what is complete; save a cursor only when every batch it covers was written

and the CLI reports the summary as usual and exits with `stop.exit_code` (130 for SIGINT, 143 for
SIGTERM; drain-queue exits 0, a signal being how a worker is meant to end). The job lock asks for a
stop too, with the reason `lease-lost` (exit 75), when another run took its lease (ssc_cli/lock.py).

- The first signal only sets the flag: the batch in hand is finished (or, for fetches still in
  flight after `grace` seconds, abandoned unwritten) and the job ends at its next check.
- A second signal raises KeyboardInterrupt at once (exit 130; the run record says `aborted`).
- Handlers are installed explicitly, so SIGTERM works for ssc running as PID 1 in a container,
  where the kernel drops every signal the process has no handler for.
- Async code can `await stop.wait()` (in an `asyncio.wait_for` to sleep interruptibly) and run a
  phase that writes nothing to the graph through `await stop.bounded(coro)`: cancelled `grace`
  seconds after a stop, raising Stopped.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager, suppress
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

# asyncio loads only in the async methods: `ssc --help` installs terminate_on_sigterm from here
# and must stay fast (issue 8).
if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

T = TypeVar("T")

SIGNAL = "signal"  # the `stopped` value of a run ended by SIGTERM/SIGINT
# ... and of a run whose job lease in the graph was taken by another run (ssc_cli/lock.py).
LEASE_LOST = "lease-lost"


class Stopped(Exception):
    """A phase was abandoned because the job was asked to stop."""


class Stop:
    """Set once when the job should end at its next check; readable from any loop."""

    def __init__(self, grace: float = 5.0) -> None:
        self.grace = grace
        self.reason: str | None = None
        self.signum: int | None = None
        self._wakers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    @property
    def requested(self) -> bool:
        return self.reason is not None

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process ended by that signal; 75 (as
        LockHeld) when the job lost its lease to another run."""
        if self.reason == LEASE_LOST:
            return 75
        return 128 + (self.signum or signal.SIGTERM)

    def request(self, reason: str = SIGNAL, signum: int | None = None) -> None:
        """Ask the job to stop (the first reason wins); wakes every waiter."""
        if self.reason is None:
            self.reason, self.signum = reason, signum
        for loop, event in list(self._wakers):
            with suppress(RuntimeError):  # that loop has closed meanwhile
                loop.call_soon_threadsafe(event.set)

    async def wait(self) -> None:
        """Return once a stop is requested."""
        import asyncio

        if self.requested:
            return
        waker = (asyncio.get_running_loop(), asyncio.Event())
        self._wakers.append(waker)
        try:
            if not self.requested:  # a signal may have come in between
                await waker[1].wait()
        finally:
            self._wakers.remove(waker)

    async def bounded(self, work: Coroutine[Any, Any, T]) -> T:
        """Run work; once a stop is requested it has `grace` seconds left, then it is cancelled
        and Stopped raised. Only for work that leaves nothing half-written when cancelled."""
        import asyncio

        if self.requested:  # stopped before the phase began: do not begin it
            work.close()
            raise Stopped("stopped before it began")
        task = asyncio.ensure_future(work)
        waiter = asyncio.ensure_future(self.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                await asyncio.wait({task}, timeout=self.grace)
            if not task.done():
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
                raise Stopped(f"abandoned {self.grace:g}s after the stop")
            return task.result()
        finally:
            waiter.cancel()
            if not task.done():
                task.cancel()


@contextmanager
def stop_on_signals(
    grace: float = 5.0, signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT)
) -> Iterator[Stop]:
    """A Stop set by the first of these signals; the second raises KeyboardInterrupt.

    The previous handlers come back on exit. Only the main thread can install handlers.
    """
    stop = Stop(grace)

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        log.warning(
            "%s received: finishing the batch in hand, then stopping (send it again to abort)",
            name,
        )
        stop.request(SIGNAL, signum)

    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def terminate_on_sigterm() -> None:
    """SIGTERM ends any command as SIGINT would (exit 143); jobs replace it with a Stop.

    Python installs no SIGTERM handler, and PID 1 ignores signals it has none for.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    with suppress(ValueError):  # not the main thread (an embedding program): leave it alone
        signal.signal(signal.SIGTERM, handler)
