"""The batch heartbeat stops cleanly even when the Redis client finishes a command it was in."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord, VersionRecord
from ssc_cli.pipeline.drain import DrainOptions, drain
from ssc_cli.queue.message import ExtractionMessage
from ssc_cli.queue.stream import DeadLetter, Entry
from tests.queue.fetch_only import FetchOnlyRegistry

PYPI = Ecosystem.PYPI


class StubbornQueue:
    """An in-memory stream whose heartbeat, like redis-py, completes the command when cancelled."""

    def __init__(self, names: list[str]) -> None:
        self.entries = [
            Entry(str(i), ExtractionMessage.request(PYPI, n).to_fields())
            for i, n in enumerate(names)
        ]
        self.acked: list[str] = []
        self.beats = 0

    async def read(self, count: int, block_ms: int) -> list[Entry]:
        batch, self.entries = self.entries[:count], self.entries[count:]
        return batch

    async def ack(self, ids: Sequence[str]) -> int:
        self.acked += ids
        return len(ids)

    async def dead_letter(self, letters: Sequence[DeadLetter]) -> int:
        assert not letters, f"nothing should be dead-lettered: {letters}"
        return 0

    async def heartbeat(self, ids: Sequence[str]) -> None:
        self.beats += 1
        # Longer than the beat interval, so a cancel lands in here and is swallowed, as by a
        # client that finishes its round trip.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.2)

    async def drained(self) -> bool:
        return not self.entries

    async def trim(self) -> None:
        return None

    async def publish_discovered(
        self, messages: Sequence[ExtractionMessage], *, force: bool = False
    ) -> int:
        return 0

    async def leave(self) -> None:
        return None


class SlowRegistry(FetchOnlyRegistry):
    """Answers every package after a delay long enough for the heartbeat to start."""

    async def fetch(self, name: str, known: KnownPackage | None = None) -> PackageRecord:
        await asyncio.sleep(0.3)
        return PackageRecord(PYPI, name, [VersionRecord(name="1.0")])


@pytest.mark.timeout(30)
def test_batch_ends_although_the_heartbeat_swallows_cancellation(tmp_path: Path) -> None:
    queue = StubbornQueue(["alpha", "beta"])
    store = SqliteStore(tmp_path / "graph.sqlite")
    store.migrate()
    options = DrainOptions(until_empty=True, block_ms=0, claim_idle_ms=150, follow_deps=False)

    async def run() -> Any:
        return await asyncio.wait_for(
            drain(queue, store, lambda eco: SlowRegistry(), options), timeout=20
        )

    try:
        summary = asyncio.run(run())
        assert summary.successful == 2 and summary.stopped == "empty"
        assert sorted(queue.acked) == ["0", "1"] and queue.beats >= 1
        assert store.statuses(PYPI, ["alpha", "beta"]) == {
            "alpha": "extracted",
            "beta": "extracted",
        }
    finally:
        store.close()
