"""Bounded concurrency over a stream of names: at most N fetches in flight, results in order done."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ssc_cli.pipeline.extract import Outcome
from ssc_cli.pipeline.stop import Stop


async def run_bounded(
    next_name: Callable[[], Awaitable[str | None]],
    work: Callable[[str], Coroutine[Any, Any, Outcome]],
    on_done: Callable[[Outcome], None],
    concurrency: int,
    stop: Stop | None = None,
) -> bool:
    """Pull names until next_name gives None, keeping `concurrency` works in flight.

    True when every name was worked through; False when a stop came first: no name is pulled
    after it, and works still in flight `stop.grace` seconds later are cancelled (abandoned).
    """
    loop = asyncio.get_running_loop()
    in_flight: set[asyncio.Task[Outcome]] = set()
    exhausted = False
    deadline: float | None = None
    stopper = asyncio.ensure_future(stop.wait()) if stop is not None else None
    try:
        while True:
            if stop is not None and stop.requested and deadline is None:
                deadline = loop.time() + stop.grace
            while deadline is None and not exhausted and len(in_flight) < concurrency:
                name = await next_name()
                if name is None:
                    exhausted = True
                    break
                in_flight.add(asyncio.create_task(work(name)))
                if stop is not None and stop.requested:
                    break
            if not in_flight:
                if exhausted or deadline is not None:
                    return deadline is None
                continue
            waiting: set[asyncio.Future[Any]] = set(in_flight)
            if stopper is not None and not stopper.done():
                waiting.add(stopper)
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            done, _ = await asyncio.wait(
                waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            finished = [task for task in in_flight if task in done]
            in_flight.difference_update(finished)
            for task in finished:
                on_done(task.result())
            if deadline is not None and not finished and loop.time() >= deadline:
                return False  # the grace is over: what is still in flight is abandoned
            # Finished works may have queued new names (discovered dependencies).
            exhausted = False
    finally:
        if stopper is not None:
            stopper.cancel()
        for task in in_flight:
            task.cancel()
        if in_flight:
            # Let the cancelled fetches unwind (close their responses) before the caller goes on.
            await asyncio.wait(in_flight, timeout=5.0)
