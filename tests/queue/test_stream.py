"""ExtractionStream against a real redis-server: group, reclaim, delivery counts, trimming, dead letters."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis
import redis.asyncio

from ssc_cli.models import Ecosystem
from ssc_cli.queue.message import ExtractionMessage
from ssc_cli.queue.stream import DeadLetter, ExtractionStream, StreamConfig

STREAM, GROUP, DLQ = "s", "g", "s-dlq"


def _with_streams(
    url: str, body: Callable[[Callable[..., ExtractionStream]], Awaitable[Any]]
) -> Any:
    async def main() -> Any:
        clients: list[redis.asyncio.Redis] = []

        def make(consumer: str, **kw: Any) -> ExtractionStream:
            client = redis.asyncio.Redis.from_url(url, decode_responses=True)
            clients.append(client)
            return ExtractionStream(client, StreamConfig(STREAM, GROUP, consumer, DLQ, **kw))

        try:
            return await body(make)
        finally:
            for client in clients:
                await client.aclose()

    return asyncio.run(main())


def _messages(n: int) -> list[ExtractionMessage]:
    return [ExtractionMessage.request(Ecosystem.PYPI, f"p{i}") for i in range(n)]


# Claim-idle times: never one a slow machine could outlast between two commands by accident.
# A consumer that must not claim yet uses NEVER; one that must claim an entry whatever its idle
# time switches to AT_ONCE (XAUTOCLAIM with min-idle-time 0), so no test waits on a wall clock.
NEVER, AT_ONCE = 600_000, 0


def _claiming_at_once(stream: ExtractionStream) -> ExtractionStream:
    stream.config = dataclasses.replace(stream.config, claim_idle_ms=AT_ONCE)
    return stream


def test_reclaim_counts_deliveries_and_dead_letters(
    redis_server: str, redis_client: redis.Redis
) -> None:
    async def body(make: Callable[..., ExtractionStream]) -> None:
        a = make("a", claim_idle_ms=NEVER)
        b = make("b", claim_idle_ms=NEVER)
        await a.publish(_messages(3))
        first = await a.read(10, 0)
        assert [e.deliveries for e in first] == [1, 1, 1] and not any(e.reclaimed for e in first)
        await a.ack([first[0].id])
        assert await b.read(10, 0) == []  # not idle long enough yet
        taken = await _claiming_at_once(b).read(10, 0)
        assert [e.id for e in taken] == [e.id for e in first[1:]]
        assert all(e.reclaimed and e.deliveries == 2 for e in taken)
        assert not await b.drained()
        await b.dead_letter([DeadLetter(taken[0], "failed", "boom")])
        await b.ack([taken[1].id])
        assert await b.drained()

    _with_streams(redis_server, body)
    letter = redis_client.xrange(DLQ)[0][1]
    assert letter["reason"] == "failed" and letter["attempts"] == "2" and letter["error"] == "boom"
    assert letter["consumer"] == "b" and '"p1"' in letter["data"]
    assert redis_client.xinfo_groups(STREAM)[0]["pending"] == 0


def test_heartbeat_keeps_entries_from_being_claimed(
    redis_server: str, redis_client: redis.Redis
) -> None:
    async def body(make: Callable[..., ExtractionStream]) -> None:
        # No wall-clock margin: wait (however long the machine takes) until the held entries have
        # been idle past b's claim time, then heartbeat. b, reading right after, finds nothing to
        # claim, although without the heartbeat it would take both (its idle test is Redis's own).
        a = make("a", claim_idle_ms=NEVER)
        b = make("b", claim_idle_ms=CLAIM_MS)
        await a.publish(_messages(2))
        held = await a.read(10, 0)
        _wait_until_idle(redis_client, [e.id for e in held], CLAIM_MS)
        await a.heartbeat([e.id for e in held])
        assert await b.read(10, 0) == []
        _wait_until_idle(redis_client, [e.id for e in held], CLAIM_MS)
        assert sorted(e.id for e in await b.read(10, 0)) == sorted(e.id for e in held)

    _with_streams(redis_server, body)


CLAIM_MS = 1_500


def _wait_until_idle(client: redis.Redis, ids: list[str], idle_ms: int) -> None:
    """Poll XPENDING until every entry has been idle for more than `idle_ms` (60 s at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pending = client.xpending_range(STREAM, GROUP, min="-", max="+", count=len(ids) + 10)
        idle = {row["message_id"]: row["time_since_delivered"] for row in pending}
        if all(idle.get(i, 0) > idle_ms for i in ids):
            return
        time.sleep(0.1)
    raise AssertionError(f"entries {ids} never became idle for {idle_ms} ms")


def test_trim_drops_only_acknowledged_entries(redis_server: str, redis_client: redis.Redis) -> None:
    async def body(make: Callable[..., ExtractionStream]) -> None:
        a = make("a")
        await a.publish(_messages(300))
        entries = await a.read(300, 0)
        await a.ack([e.id for e in entries[:250]])
        await a.trim()
        # The pending tail is kept whatever the approximation did.
        remaining = {i for i, _ in redis_client.xrange(STREAM)}
        assert {e.id for e in entries[250:]} <= remaining and len(remaining) < 300
        await a.publish(_messages(5))
        await a.trim()  # undelivered entries are kept as well
        assert redis_client.xlen(STREAM) >= 55

    _with_streams(redis_server, body)


def test_publish_caps_with_maxlen_and_discovery_is_deduplicated(
    redis_server: str, redis_client: redis.Redis
) -> None:
    async def body(make: Callable[..., ExtractionStream]) -> int:
        a = make("a", maxlen=100, discovery_ttl=60)
        await a.publish(_messages(1000))
        first = await a.publish_discovered(_messages(3))
        again = await a.publish_discovered(_messages(4))
        return first * 10 + again

    assert _with_streams(redis_server, body) == 31
    assert redis_client.xlen(STREAM) < 1000  # MAXLEN ~ 100 trims whole nodes


def test_retry_dead_moves_data_back(redis_server: str, redis_client: redis.Redis) -> None:
    redis_client.xadd(DLQ, {"data": '{"node_type": "PyPIPackage", "package": "a"}', "error": "x"})
    redis_client.xadd(DLQ, {"data": "", "fields": "{}", "error": "no data", "reason": "no_data"})
    redis_client.xadd(
        DLQ,
        {"data": '{"node_type": "PyPIPackage", "package": "b"}', "error": "x", "reason": "failed"},
    )

    async def body(make: Callable[..., ExtractionStream]) -> tuple[int, dict[str, int]]:
        return await make("a").retry_dead()

    # A letter without a reason (an older one) counts as failed: retryable.
    assert _with_streams(redis_server, body) == (2, {"no_data": 1})
    assert [f["data"] for _i, f in redis_client.xrange(STREAM)] == [
        '{"node_type": "PyPIPackage", "package": "a"}',
        '{"node_type": "PyPIPackage", "package": "b"}',
    ]
    assert redis_client.xlen(DLQ) == 1


def test_delivery_counts_are_exact_when_the_consumer_holds_many_other_entries(
    redis_server: str,
) -> None:
    async def body(make: Callable[..., ExtractionStream]) -> list[int]:
        # NEVER while the entries are handed out: under load the loop below can take longer
        # than any short idle time, and b would reclaim entries early (issue 9, item 8).
        a = make("a", claim_idle_ms=NEVER)
        b = make("b", claim_idle_ms=NEVER)
        await a.publish(_messages(200))
        # b holds three of every four entries; a holds the rest and dies.
        for _ in range(50):
            await b.read(3, 0)
            await a.read(1, 0)
        # a's entries, interleaved with b's own pending ones
        taken = await _claiming_at_once(b).read(50, 0)
        assert len(taken) == 50 and all(e.reclaimed for e in taken)
        return [e.deliveries for e in taken]

    assert _with_streams(redis_server, body) == [2] * 50


def test_pending_entries_deleted_from_the_stream_become_dead_letters(
    redis_server: str, redis_client: redis.Redis
) -> None:
    async def body(make: Callable[..., ExtractionStream]) -> list[str]:
        a = make("a", claim_idle_ms=NEVER)
        await a.publish(_messages(3))
        held = await a.read(3, 0)
        redis_client.xdel(STREAM, held[0].id)
        again = await make("b", claim_idle_ms=AT_ONCE).read(10, 0)
        return [e.id for e in again]

    survivors = _with_streams(redis_server, body)
    assert len(survivors) == 2
    [letter] = [fields for _id, fields in redis_client.xrange(DLQ)]
    assert letter["reason"] == "trimmed" and "re-enqueue" in letter["error"]
    assert redis_client.xinfo_groups(STREAM)[0]["pending"] == 2


def test_a_consumer_leaves_the_group_only_when_it_holds_nothing(
    redis_server: str, redis_client: redis.Redis
) -> None:
    def names() -> set[str]:
        return {c["name"] for c in redis_client.xinfo_consumers(STREAM, GROUP)}

    async def body(make: Callable[..., ExtractionStream]) -> None:
        a, b = make("a"), make("b")
        await a.publish(_messages(2))
        held = await a.read(1, 0)
        await b.read(1, 0)
        await a.leave()  # still holds an entry: stays, or the entry would leave with it
        assert names() == {"a", "b"} and redis_client.xinfo_groups(STREAM)[0]["pending"] == 2
        await a.ack([e.id for e in held])
        await a.leave()

    _with_streams(redis_server, body)
    assert names() == {"b"}


def test_an_entry_settled_already_gets_no_second_dead_letter(
    redis_server: str, redis_client: redis.Redis
) -> None:
    """Two consumers holding one entry (the first stalled past claim-idle, e.g. through a Redis
    restart), and a dead-letter MULTI sent again after its reply was lost: one letter only."""

    async def body(make: Callable[..., ExtractionStream]) -> list[int]:
        a = make("a", claim_idle_ms=NEVER, dead_letter_maxlen=1_000)
        b = make("b", claim_idle_ms=NEVER)
        await a.publish(_messages(3))
        held = await a.read(10, 0)
        taken = await _claiming_at_once(b).read(10, 0)  # a still works on them meanwhile
        assert [e.id for e in taken] == [e.id for e in held]
        written = [await a.dead_letter([DeadLetter(held[0], "failed", "a")])]
        written.append(await b.dead_letter([DeadLetter(taken[0], "failed", "b")]))
        written.append(await b.dead_letter([DeadLetter(taken[0], "failed", "b again")]))
        assert await b.ack([taken[1].id]) == 1
        written.append(await a.dead_letter([DeadLetter(held[1], "failed", "acked before")]))
        written.append(await b.dead_letter([DeadLetter(taken[2], "failed", "b")]))
        # Entries Redis already dropped from the pending list: written without an ack.
        written.append(await b.dead_letter([DeadLetter(taken[2], "trimmed", "gone")], ack=False))
        return written

    assert _with_streams(redis_server, body) == [1, 0, 0, 0, 1, 1]
    letters = [fields for _id, fields in redis_client.xrange(DLQ)]
    assert [(f["consumer"], f["error"]) for f in letters] == [("a", "a"), ("b", "b"), ("b", "gone")]
    assert letters[0]["attempts"] == "1" and '"p0"' in letters[0]["data"]
    assert redis_client.xinfo_groups(STREAM)[0]["pending"] == 0
