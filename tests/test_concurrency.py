"""all_or_first_error: results in order, or the first error with the rest cancelled."""

from __future__ import annotations

import asyncio

import pytest

from ssc_cli.concurrency import all_or_first_error
from ssc_cli.errors import RegistryUnavailable


def test_results_keep_their_order() -> None:
    async def after(delay: float, value: int) -> int:
        await asyncio.sleep(delay)
        return value

    got = asyncio.run(all_or_first_error(after(d, v) for d, v in ((0.03, 1), (0.0, 2), (0.01, 3))))
    assert got == [1, 2, 3]
    assert asyncio.run(all_or_first_error([])) == []


def test_the_first_error_cancels_the_others_and_is_raised_as_itself() -> None:
    finished: list[str] = []
    cancelled: list[str] = []

    async def slow(name: str) -> str:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise
        finished.append(name)
        return name

    async def broken() -> str:
        await asyncio.sleep(0.01)
        raise RegistryUnavailable("pypi answered 500 for 1.0")

    async def main() -> None:
        with pytest.raises(RegistryUnavailable, match="1.0"):
            await all_or_first_error([slow("a"), broken(), slow("b")])

    asyncio.run(main())
    assert sorted(cancelled) == ["a", "b"] and finished == []
