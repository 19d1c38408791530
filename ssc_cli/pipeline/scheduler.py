"""Bounded concurrency over a stream of names: at most N fetches in flight, results in order done."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ssc_cli.pipeline.extract import Outcome


async def run_bounded(
    next_name: Callable[[], Awaitable[str | None]],
    work: Callable[[str], Coroutine[Any, Any, Outcome]],
    on_done: Callable[[Outcome], None],
    concurrency: int,
) -> None:
    """Pull names until next_name gives None, keeping `concurrency` works in flight."""
    in_flight: set[asyncio.Task[Outcome]] = set()
    exhausted = False
    try:
        while True:
            while not exhausted and len(in_flight) < concurrency:
                name = await next_name()
                if name is None:
                    exhausted = True
                    break
                in_flight.add(asyncio.create_task(work(name)))
            if not in_flight:
                if exhausted:
                    return
                continue
            done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                on_done(task.result())
            # Finished works may have queued new names (discovered dependencies).
            exhausted = False
    finally:
        for task in in_flight:
            task.cancel()
