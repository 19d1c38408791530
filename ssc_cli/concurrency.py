"""Awaiting a package's many requests together: the first failure cancels the rest."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def all_or_first_error(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Results in order; on the first error the others are cancelled and that error is raised.

    asyncio.gather would leave the others running (retrying, backing off) for a package that has
    already failed, spending the registry's rate budget on nothing.
    """
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_wrap(a)) for a in awaitables]
    except BaseExceptionGroup as failed:
        first = failed.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [task.result() for task in tasks]


async def _wrap(awaitable: Awaitable[T]) -> T:
    return await awaitable
