"""Progress of a long run: the counter its loop advances, and the `key=value` line a timer
prints every SSC_PROGRESS_INTERVAL seconds when stderr is no terminal (issue 8).

The line (docs/cli.md, Progress), fields in this order, absent ones left out:

    ssc: progress ingest pypi: done=1200 total=5000 rate=41.3/s errors=2 eta=92s elapsed=29s

`total` and `eta` only when the total is known (`eta` once something is done). Standard
library only: the CLI imports this before any command runs, and `ssc --help` stays fast.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

PREFIX = "ssc: progress"


class Advance(Protocol):
    """What a loop calls after each unit of work: how many items it finished, how many of
    those failed."""

    def __call__(self, done: int, /, errors: int = 0) -> None: ...


def no_progress(done: int, /, errors: int = 0) -> None:
    """An Advance that reports nowhere (-q, a terminal's rich bar takes its own)."""


def progress_line(
    description: str, done: int, total: int | None, errors: int, elapsed: float
) -> str:
    """One progress line; rate and ETA from the average since the run started."""
    rate = done / elapsed if elapsed > 0 else 0.0
    fields = [f"done={done}"]
    if total is not None:
        fields.append(f"total={total}")
    fields += [f"rate={rate:.1f}/s", f"errors={errors}"]
    if total is not None and rate > 0:
        fields.append(f"eta={math.ceil(max(0, total - done) / rate)}s")
    fields.append(f"elapsed={int(elapsed)}s")
    return f"{PREFIX} {description}: {' '.join(fields)}"


class Counter:
    """Items done and failed so far; advanced by the run's loop, read by the timer thread."""

    def __init__(
        self,
        description: str,
        total: int | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.description = description
        self.total = total
        self.done = 0
        self.errors = 0
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()

    def advance(self, done: int, /, errors: int = 0) -> None:
        with self._lock:
            self.done += done
            self.errors += errors

    def line(self) -> str:
        with self._lock:
            done, errors = self.done, self.errors
        return progress_line(
            self.description, done, self.total, errors, self._clock() - self._started
        )


class ProgressLines:
    """A daemon thread writing the counter's line every `interval` seconds until closed.

    A thread, not the loop's advance calls: a run blocked on a slow registry (or a drain worker
    waiting on an empty stream) still reports, with its rate falling, instead of going silent.
    """

    def __init__(self, counter: Counter, interval: float, write: Callable[[str], None]) -> None:
        self.counter = counter
        self.interval = interval
        self._write = write
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ssc-progress", daemon=True)

    def _run(self) -> None:
        while not self._closed.wait(self.interval):
            self._write(self.counter.line())

    def __enter__(self) -> Advance:
        self._thread.start()
        return self.counter.advance

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self._thread.join()
