"""Duplicate deliveries under the drain: counted, and their effect not repeated (issue 15, item 7)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import redis
import redis.asyncio

from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord, VersionRecord
from ssc_cli.pipeline.drain import DrainOptions, DrainSummary, drain
from ssc_cli.queue.message import ExtractionMessage
from ssc_cli.queue.stream import ExtractionStream, StreamConfig
from tests.queue.fetch_only import FetchOnlyRegistry

PYPI = Ecosystem.PYPI
STREAM, GROUP, DLQ = "s", "g", "s-dlq"


class SettlingRegistry(FetchOnlyRegistry):
    """Answers every package; while it does, the consumer the entries were first delivered to
    (stalled, say, through a Redis restart) comes back and acks everything it held."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.fetched: list[str] = []
        self.settling = False

    async def fetch(self, name: str, known: KnownPackage | None = None) -> PackageRecord:
        self.fetched.append(name)
        if not self.settling:
            return PackageRecord(PYPI, name, [VersionRecord(name="1.0")])
        rows = self.client.xpending_range(STREAM, GROUP, min="-", max="+", count=100)
        self.client.xack(STREAM, GROUP, *[row["message_id"] for row in rows])
        return PackageRecord(PYPI, name, [VersionRecord(name="1.0")])


def _drain(url: str, store: SqliteStore, registry: SettlingRegistry) -> DrainSummary:
    options = DrainOptions(until_empty=True, block_ms=0, claim_idle_ms=10, follow_deps=False)

    async def run() -> DrainSummary:
        client = redis.asyncio.Redis.from_url(url, decode_responses=True)
        try:
            queue = ExtractionStream(
                client, StreamConfig(STREAM, GROUP, "worker", DLQ, claim_idle_ms=10)
            )
            return await drain(queue, store, lambda eco: registry, options)
        finally:
            await client.aclose()

    return asyncio.run(asyncio.wait_for(run(), timeout=60))


def test_redeliveries_and_entries_settled_elsewhere_are_counted_not_repeated(
    redis_server: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    store = SqliteStore(tmp_path / "graph.sqlite")
    store.migrate()
    registry = SettlingRegistry(redis_client)
    redis_client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    try:
        redis_client.xadd(STREAM, ExtractionMessage.request(PYPI, "alpha").to_fields())
        first = _drain(redis_server, store, registry)
        assert first.extracted == 1 and first.redeliveries_already_done == 0
        assert first.already_settled == 0

        for fields in (
            ExtractionMessage.request(PYPI, "alpha").to_fields(),  # the graph has it already
            ExtractionMessage.request(PYPI, "beta").to_fields(),
            {"data": json.dumps({"node_type": "GoPackage", "package": "x"})},  # a dead letter
        ):
            redis_client.xadd(STREAM, fields)  # type: ignore[arg-type]
        # Delivered to a consumer that then stalls: the worker claims them once idle.
        redis_client.xreadgroup(GROUP, "stalled", {STREAM: ">"})
        registry.settling = True
        summary = _drain(redis_server, store, registry)
    finally:
        store.close()
    assert summary.reclaimed == 3 and registry.fetched == [
        "alpha",
        "beta",
    ]  # alpha: the first drain
    # alpha was not fetched again; all three had been acked by the stalled consumer meanwhile.
    assert summary.redeliveries_already_done == 1 and summary.already_present == 1
    assert summary.already_settled == 3 and summary.dead_lettered == 0
    assert redis_client.xlen(DLQ) == 0
