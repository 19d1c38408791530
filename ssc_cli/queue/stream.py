"""The Redis stream: consumer-group reads, reclaiming, acks, dead letters, trimming, publishing."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio

from ssc_cli.errors import QueueUnavailable
from ssc_cli.queue.message import FAILED, TRIMMED, ExtractionMessage
from ssc_cli.settings import Settings

_PIPELINE_CHUNK = 1_000  # commands per round trip when publishing or moving dead letters

# KEYS: stream, dead-letter stream; ARGV: group, entry id, dead-letter MAXLEN (0: none), then the
# letter's fields and values. XACK first: the letter is written only if that settled the entry.
_SETTLE_AS_DEAD_LETTER = """
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local args = {KEYS[2]}
if tonumber(ARGV[3]) > 0 then
  args[#args + 1] = 'MAXLEN'; args[#args + 1] = '~'; args[#args + 1] = ARGV[3]
end
args[#args + 1] = '*'
for i = 4, #ARGV do args[#args + 1] = ARGV[i] end
redis.call('XADD', unpack(args))
return 1
"""


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """Names and policies of one stream, from the settings."""

    stream: str
    group: str
    consumer: str
    dead_letters: str
    claim_idle_ms: int = 60_000
    maxlen: int = 0  # MAXLEN ~ on every XADD; 0: none
    trim_acked: bool = True
    dead_letter_maxlen: int = 0
    discovery_ttl: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamConfig:
        return cls(
            stream=settings.redis_stream,
            group=settings.redis_group,
            consumer=settings.consumer_name,
            dead_letters=settings.dead_letter_stream,
            claim_idle_ms=settings.queue_claim_idle_ms,
            maxlen=settings.queue_maxlen,
            trim_acked=settings.queue_trim_acked,
            dead_letter_maxlen=settings.queue_dlq_maxlen,
            discovery_ttl=settings.queue_discovery_ttl,
        )


@dataclass(slots=True)
class Entry:
    """One stream entry in this consumer's hands."""

    id: str
    fields: dict[str, str]
    deliveries: int = 1  # times delivered, this one included
    reclaimed: bool = False


@dataclass
class DeadLetter:
    entry: Entry
    reason: str
    error: str


@contextmanager
def _redis_errors(action: str) -> Iterator[None]:
    """Every Redis failure leaves as QueueUnavailable (exit 5)."""
    try:
        yield
    except (redis.RedisError, OSError) as exc:
        raise QueueUnavailable(
            f"Redis failed while {action}: {exc}; check SSC_REDIS_URL and the server"
        ) from exc


def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _successor(entry_id: str) -> str:
    ms, seq = _id_tuple(entry_id)
    return f"{ms}-{seq + 1}"


@dataclass
class ExtractionStream:
    """A consumer (and producer) of the extraction stream under one consumer group."""

    client: redis.asyncio.Redis
    config: StreamConfig
    _history_read: bool = False
    _claim_cursor: str = "0-0"
    _group_ready: bool = field(default=False, repr=False)

    # -- consuming ------------------------------------------------------------------------

    def forget_group(self) -> None:
        """After a lost connection: create the group again if needed (a Redis restarted empty)
        and re-read this consumer's own pending entries first."""
        self._group_ready = False
        self._history_read = False

    async def ensure_group(self) -> None:
        """XGROUP CREATE … 0 MKSTREAM: entries already on the stream are read too."""
        if self._group_ready:
            return
        with _redis_errors("creating the consumer group"):
            try:
                await self.client.xgroup_create(
                    self.config.stream, self.config.group, id="0", mkstream=True
                )
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._group_ready = True

    async def read(self, count: int, block_ms: int) -> list[Entry]:
        """Up to count entries: this consumer's own history once, then idle ones of others, then new."""
        await self.ensure_group()
        entries: list[Entry] = []
        if not self._history_read:
            # A restarted consumer with a fixed name (SSC_REDIS_CONSUMER) resumes its own pending.
            self._history_read = True
            entries += await self._xreadgroup("0", count, None)
            await self._delivery_counts(entries)
            for entry in entries:
                entry.reclaimed = True
        if len(entries) < count:
            entries += await self._autoclaim(count - len(entries))
        if len(entries) < count:
            block = None if entries or block_ms <= 0 else block_ms
            entries += await self._xreadgroup(">", count - len(entries), block)
        return entries

    async def _xreadgroup(self, start: str, count: int, block: int | None) -> list[Entry]:
        cfg = self.config
        with _redis_errors("reading the stream"):
            reply: Any = await self.client.xreadgroup(
                cfg.group, cfg.consumer, {cfg.stream: start}, count=count, block=block
            )
        entries, lost = [], []
        for _stream, items in reply or []:
            for entry_id, fields in items:
                if fields is None:  # a pending entry deleted from the stream (MAXLEN, XDEL)
                    lost.append(str(entry_id))
                    continue
                entries.append(Entry(entry_id, dict(fields)))
        await self._record_lost(lost)
        return entries

    async def _autoclaim(self, count: int) -> list[Entry]:
        """XAUTOCLAIM entries idle longer than the setting (their consumer died or hung)."""
        cfg = self.config
        with _redis_errors("claiming idle entries"):
            reply = await self.client.xautoclaim(
                cfg.stream,
                cfg.group,
                cfg.consumer,
                min_idle_time=cfg.claim_idle_ms,
                start_id=self._claim_cursor,
                count=count,
            )
        self._claim_cursor = str(reply[0])
        entries = [
            Entry(entry_id, dict(fields), reclaimed=True)
            for entry_id, fields in reply[1]
            if fields is not None
        ]
        # Redis 7 drops deleted entries from the pending list and names them here.
        deleted = [str(i) for i in (reply[2] if len(reply) > 2 else [])]
        await self._record_lost(deleted, acked=True)
        await self._delivery_counts(entries)
        return entries

    async def _record_lost(self, ids: Sequence[str], *, acked: bool = False) -> None:
        """Pending entries whose payload was deleted before processing: a dead letter each."""
        if not ids:
            return
        letters = [
            DeadLetter(
                Entry(entry_id, {}),
                TRIMMED,
                "deleted from the stream before it was processed (MAXLEN or XDEL); "
                "its payload is gone: re-enqueue the package if it is still wanted",
            )
            for entry_id in ids
        ]
        await self.dead_letter(letters, ack=not acked)

    async def _delivery_counts(self, entries: Sequence[Entry]) -> None:
        """Each entry's delivery count, looked up by its own id (a range would also return this
        consumer's other pending entries and could leave some of these out)."""
        if not entries:
            return
        cfg = self.config
        with _redis_errors("reading delivery counts"):
            async with self.client.pipeline(transaction=False) as pipe:
                for entry in entries:
                    pipe.xpending_range(cfg.stream, cfg.group, min=entry.id, max=entry.id, count=1)
                replies: list[Any] = await pipe.execute()
        for entry, rows in zip(entries, replies, strict=True):
            entry.deliveries = max(1, int(rows[0]["times_delivered"])) if rows else 1

    async def heartbeat(self, ids: Sequence[str]) -> None:
        """Reset the idle time of entries still being worked on, so nobody claims them meanwhile."""
        if not ids:
            return
        cfg = self.config
        with _redis_errors("refreshing pending entries"):
            await self.client.xclaim(
                cfg.stream,
                cfg.group,
                cfg.consumer,
                min_idle_time=0,
                message_ids=list(ids),
                justid=True,
            )

    async def give_back(self, entries: Sequence[Entry]) -> None:
        """Undo the delivery count of entries left pending through no fault of theirs (their
        registry is down): XCLAIM … RETRYCOUNT <deliveries - 1> JUSTID, one per count."""
        by_count: dict[int, list[str]] = {}
        for entry in entries:
            by_count.setdefault(max(0, entry.deliveries - 1), []).append(entry.id)
        if not by_count:
            return
        cfg = self.config
        with _redis_errors("giving attempts back"):
            async with self.client.pipeline(transaction=False) as pipe:
                for count, ids in by_count.items():
                    pipe.xclaim(
                        cfg.stream,
                        cfg.group,
                        cfg.consumer,
                        min_idle_time=0,
                        message_ids=list[Any](ids),
                        retrycount=count,
                        justid=True,
                    )
                await pipe.execute()

    async def ack(self, ids: Sequence[str]) -> int:
        """XACK; the number of entries this settled (the others had been acked already)."""
        if not ids:
            return 0
        with _redis_errors("acknowledging entries"):
            return int(await self.client.xack(self.config.stream, self.config.group, *ids))

    async def dead_letter(self, letters: Sequence[DeadLetter], *, ack: bool = True) -> int:
        """Each letter XADDed to the dead-letter stream and its entry XACKed, all in one MULTI;
        the number written.

        With ack, a letter is written only when its own XACK settled the entry (one script per
        letter): an entry already acked or dead-lettered gets no second letter, whether another
        consumer claimed it while this one still worked on it, or this MULTI is sent again after
        its reply was lost to a Redis restart. Without ack (entries Redis already dropped from
        the pending list), every letter is written.
        """
        if not letters:
            return 0
        cfg = self.config
        now = datetime.now(UTC).isoformat(timespec="seconds")
        script = self.client.register_script(_SETTLE_AS_DEAD_LETTER)
        with _redis_errors("writing dead letters"):
            async with self.client.pipeline(transaction=True) as pipe:
                for letter in letters:
                    entry = letter.entry
                    fields: dict[str, str] = {
                        "data": entry.fields.get("data", ""),
                        "error": letter.error,
                        "reason": letter.reason,
                        "attempts": str(entry.deliveries),
                        "original_id": entry.id,
                        "stream": cfg.stream,
                        "consumer": cfg.consumer,
                        "failed_at": now,
                    }
                    if "data" not in entry.fields:
                        fields["fields"] = json.dumps(entry.fields, sort_keys=True)
                    if ack:
                        pairs = [item for pair in fields.items() for item in pair]
                        await script(
                            keys=[cfg.stream, cfg.dead_letters],
                            args=[cfg.group, entry.id, cfg.dead_letter_maxlen, *pairs],
                            client=pipe,
                        )
                    else:
                        pipe.xadd(
                            cfg.dead_letters,
                            fields,  # type: ignore[arg-type]
                            maxlen=cfg.dead_letter_maxlen or None,
                            approximate=True,
                        )
                replies: list[Any] = await pipe.execute()
        return sum(int(r) for r in replies) if ack else len(letters)

    async def drained(self) -> bool:
        """Nothing left for the group: no undelivered entry and nothing pending anywhere."""
        cfg = self.config
        with _redis_errors("reading the group state"):
            info = await self.client.xinfo_stream(cfg.stream)
            groups = await self.client.xinfo_groups(cfg.stream)
        group = next((g for g in groups if g["name"] == cfg.group), None)
        if group is None:
            return int(info["length"]) == 0
        last = str(info["last-generated-id"])
        delivered = str(group["last-delivered-id"])
        # lag 0: every entry delivered even when the newest was deleted before delivery.
        return int(group["pending"]) == 0 and (
            int(info["length"]) == 0
            or _id_tuple(delivered) >= _id_tuple(last)
            or group.get("lag") == 0
        )

    async def leave(self) -> None:
        """XGROUP DELCONSUMER once this consumer holds nothing pending: every cron run is a new
        `<host>-<pid>` consumer, and the group would otherwise list them all for ever."""
        if not self._group_ready:
            return
        cfg = self.config
        with _redis_errors("removing the consumer"):
            held = await self.client.xpending_range(
                cfg.stream, cfg.group, min="-", max="+", count=1, consumername=cfg.consumer
            )
            if not held:  # entries still pending stay claimable under the name
                await self.client.xgroup_delconsumer(cfg.stream, cfg.group, cfg.consumer)

    async def trim(self) -> None:
        """XTRIM MINID ~ up to the oldest entry any group still needs: acknowledged entries go."""
        if not self.config.trim_acked:
            return
        stream = self.config.stream
        with _redis_errors("trimming the stream"):
            groups = await self.client.xinfo_groups(stream)
            keep: list[str] = []
            for group in groups:
                oldest = None
                if int(group["pending"]):
                    # Another worker may have acked the last of them since XINFO: min is None.
                    oldest = (await self.client.xpending(stream, group["name"]))["min"]
                if oldest is not None:
                    keep.append(str(oldest))
                else:
                    keep.append(_successor(str(group["last-delivered-id"])))
            if keep:
                minid = min(keep, key=_id_tuple)
                await self.client.xtrim(stream, minid=minid, approximate=True)

    # -- producing ------------------------------------------------------------------------

    async def publish(self, messages: Sequence[ExtractionMessage]) -> int:
        """XADD every message (MAXLEN ~ per the setting); the number added."""
        cfg = self.config
        with _redis_errors("publishing messages"):
            for start in range(0, len(messages), _PIPELINE_CHUNK):
                async with self.client.pipeline(transaction=False) as pipe:
                    for message in messages[start : start + _PIPELINE_CHUNK]:
                        pipe.xadd(
                            cfg.stream,
                            message.to_fields(),  # type: ignore[arg-type]
                            maxlen=cfg.maxlen or None,
                            approximate=True,
                        )
                    await pipe.execute()
        return len(messages)

    async def publish_discovered(
        self, messages: Sequence[ExtractionMessage], *, force: bool = False
    ) -> int:
        """Publish dependencies not already queued within the discovery TTL (SET NX EX marks).
        force publishes them all, marking them again: a worker killed between its marks and its
        XADD left marks for messages that were never queued."""
        ttl = self.config.discovery_ttl
        if not ttl or not messages:
            return await self.publish(messages)
        if force:
            with _redis_errors("marking discovered dependencies"):
                async with self.client.pipeline(transaction=False) as pipe:
                    for message in messages:
                        pipe.set(self._queued_key(message), "1", ex=ttl)
                    await pipe.execute()
            return await self.publish(messages)
        with _redis_errors("marking discovered dependencies"):
            keys = [self._queued_key(message) for message in messages]
            async with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(key, "1", nx=True, ex=ttl)
                fresh = await pipe.execute()
        chosen = [(m, k) for m, k, new in zip(messages, keys, fresh, strict=True) if new]
        try:
            return await self.publish([m for m, _ in chosen])
        except QueueUnavailable:
            # Not queued after all: a later discovery must not be suppressed by these marks.
            with contextlib.suppress(redis.RedisError, OSError):
                await self.client.delete(*[k for _, k in chosen])
            raise

    def _queued_key(self, message: ExtractionMessage) -> str:
        return f"ssc:queued:{self.config.stream}:{message.node_type}:{message.package}"

    # -- operating ------------------------------------------------------------------------

    async def stats(self) -> dict[str, Any]:
        """Length, groups with pending per consumer, dead-letter length."""
        cfg = self.config
        out: dict[str, Any] = {
            "stream": cfg.stream,
            "length": 0,
            "groups": [],
            "dead_letters": cfg.dead_letters,
            "dead_letter_length": 0,
        }
        with _redis_errors("reading queue statistics"):
            out["dead_letter_length"] = int(await self.client.xlen(cfg.dead_letters))
            if not await self.client.exists(cfg.stream):
                return out
            out["length"] = int(await self.client.xlen(cfg.stream))
            for group in await self.client.xinfo_groups(cfg.stream):
                consumers = await self.client.xinfo_consumers(cfg.stream, group["name"])
                out["groups"].append(
                    {
                        "name": group["name"],
                        "pending": int(group["pending"]),
                        "lag": group.get("lag"),
                        "last_delivered_id": group["last-delivered-id"],
                        "consumers": [
                            {
                                "name": c["name"],
                                "pending": int(c["pending"]),
                                "idle_ms": int(c["idle"]),
                            }
                            for c in consumers
                        ],
                    }
                )
        return out

    async def retry_dead(
        self, limit: int | None = None, *, include_invalid: bool = False
    ) -> tuple[int, dict[str, int]]:
        """Move retryable dead letters back to the stream (data only, as a producer sent it):
        those that failed (or carry no reason, as older ones), and with include_invalid those
        rejected as invalid too. (moved, kept per reason); letters without data always stay."""
        cfg = self.config
        moved = 0
        kept: Counter[str] = Counter()
        start = "-"
        with _redis_errors("moving dead letters"):
            # Only the letters there now: ones dead-lettered again meanwhile wait for the next run.
            newest: Any = await self.client.xrevrange(cfg.dead_letters, count=1)
            if not newest:
                return 0, {}
            end = str(newest[0][0])
            while limit is None or moved < limit:
                batch: Any = await self.client.xrange(
                    cfg.dead_letters, min=start, max=end, count=_PIPELINE_CHUNK
                )
                if not batch:
                    break
                async with self.client.pipeline(transaction=True) as pipe:
                    for entry_id, fields in batch:
                        if limit is not None and moved >= limit:
                            break
                        reason = fields.get("reason") or FAILED
                        if not fields.get("data"):
                            # An entry without data cannot succeed however often retried.
                            kept[reason if reason == TRIMMED else "no_data"] += 1
                            continue
                        if reason != FAILED and not include_invalid:
                            kept[reason] += 1  # the same message would be rejected again
                            continue
                        pipe.xadd(cfg.stream, {"data": fields["data"]})
                        pipe.xdel(cfg.dead_letters, entry_id)
                        moved += 1
                    await pipe.execute()
                start = _successor(str(batch[-1][0]))
        return moved, dict(sorted(kept.items()))
