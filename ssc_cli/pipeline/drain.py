"""drain-queue: turn extraction requests from the stream into graph writes, acked after commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ssc_cli.errors import ConfigError, QueueUnavailable, RegistryUnavailable
from ssc_cli.graph.interface import EXTRACTED, GraphStore, ParentLink
from ssc_cli.models import Ecosystem, PackageRecord, serial_numbers
from ssc_cli.pipeline import checks
from ssc_cli.pipeline.classify import after_write, merge_hook
from ssc_cli.pipeline.extract import (
    UNREACHABLE_STREAK,
    Extraction,
    Outcome,
    RecordHook,
    recorded_run,
)
from ssc_cli.pipeline.observe import MetricsTarget
from ssc_cli.pipeline.stop import SIGNAL, Stop
from ssc_cli.progress import Advance
from ssc_cli.quality.checks import Thresholds
from ssc_cli.queue.message import (
    FAILED,
    INVALID_MESSAGE,
    UNSUPPORTED_TYPE,
    ExtractionMessage,
    Rejected,
    parse_entry,
)
from ssc_cli.queue.stream import DeadLetter, Entry
from ssc_cli.registries.interface import Registry
from ssc_cli.vulns.sources import inline_report

log = logging.getLogger(__name__)

# A blocking read waits at most this long at a time, so SIGTERM is seen within it.
_BLOCK_SLICE_MS = 1_000


class Queue(Protocol):
    """What draining needs from the stream (ssc_cli.queue.stream.ExtractionStream)."""

    async def read(self, count: int, block_ms: int) -> list[Entry]: ...

    async def ack(self, ids: Sequence[str]) -> int: ...

    async def dead_letter(self, letters: Sequence[DeadLetter]) -> int: ...

    async def heartbeat(self, ids: Sequence[str]) -> None: ...

    async def give_back(self, entries: Sequence[Entry]) -> None: ...

    async def drained(self) -> bool: ...

    async def trim(self) -> None: ...

    async def publish_discovered(
        self, messages: Sequence[ExtractionMessage], *, force: bool = False
    ) -> int: ...

    async def leave(self) -> None: ...


@dataclass
class DrainOptions:
    batch: int = 50
    max_messages: int | None = None
    until_empty: bool = False  # stop when the group has nothing undelivered and nothing pending
    block_ms: int = 5_000
    max_attempts: int = 3
    claim_idle_ms: int = 60_000
    follow_deps: bool = True
    concurrency: int = 8  # fetches in flight per batch
    checks: Thresholds | None = None  # the cheap checks after the run (None: none)
    metrics: MetricsTarget | None = None  # the job's Prometheus file (SSC_METRICS_DIR)
    attribute: RecordHook | None = None  # inline vulnerability attribution


@dataclass
class DrainSummary:
    total_processed: int = 0
    successful: int = 0
    failed: int = 0
    validation_errors: int = 0
    unsupported_types: int = 0
    reclaimed: int = 0
    dead_lettered: int = 0
    # Duplicate deliveries whose effect was prevented: a redelivered request for a package the
    # graph already held (nothing fetched or written again), and an entry another consumer (or
    # this one's own command whose reply Redis lost) had already acked or dead-lettered.
    redeliveries_already_done: int = 0
    already_settled: int = 0
    success_rate: float = 100.0
    extracted: int = 0  # packages fetched and written
    already_present: int = 0  # requests for packages the graph had (edge written, no fetch)
    missing: int = 0  # not in the registry: recorded as missing, acked
    retry_later: int = 0  # failed, left pending for another delivery
    deferred: int = 0  # registry down: left pending with the attempt given back (exit 4)
    dependencies_enqueued: int = 0
    unknown_parents: int = 0
    # Per ecosystem: fetches whose payload had a field of the wrong type or shape.
    schema_drift: dict[str, int] = field(default_factory=dict)
    stopped: str = "empty"
    elapsed: float = 0.0
    messages_per_second: float = 0.0
    classified: dict[str, Any] | None = None  # licence classification after each batch
    vulnerabilities: dict[str, Any] | None = None  # inline attribution's counters
    run_id: int | None = None
    graph_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["failures"] = [{"package": n, "reason": r} for n, r in self.failures]
        return data


@dataclass(slots=True)
class _Request:
    entry: Entry
    message: ExtractionMessage
    name: str


class Drain:
    """One consumer's loop: read a batch, extract what the graph lacks, write, link, ack."""

    def __init__(
        self,
        queue: Queue,
        store: GraphStore,
        open_registry: Callable[[Ecosystem], Registry],
        options: DrainOptions,
        stop: Stop | None = None,
        reachable: Callable[[Ecosystem], Awaitable[bool]] | None = None,
        progress: Advance | None = None,
    ) -> None:
        self.queue = queue
        self.progress = progress  # messages processed, those failed or rejected as errors
        self.reachable = reachable
        self.store = store
        self.options = options
        self.stop = stop or Stop()
        self.summary = DrainSummary()
        self._open_registry = open_registry
        self._registries: dict[Ecosystem, Registry | None] = {}
        self._streak = 0
        self.written: set[Ecosystem] = set()  # ecosystems this run wrote to (for the checks)
        self._down: list[str] = []  # registries found down in this batch: why it ends with exit 4

    async def run(self) -> DrainSummary:
        started = time.monotonic()
        options = self.options
        try:
            while not self.stop.requested:
                budget = options.batch
                if options.max_messages is not None:
                    budget = min(budget, options.max_messages - self.summary.total_processed)
                    if budget <= 0:
                        self.summary.stopped = "max-messages"
                        break
                entries = await self._read(budget)
                if entries:
                    failed_before = self._errors()
                    await self._batch(entries)
                    if self.progress is not None:
                        self.progress(len(entries), errors=self._errors() - failed_before)
                    await self.queue.trim()
                    continue
                if options.until_empty and await self.queue.drained():
                    self.summary.stopped = "empty"
                    break
                if options.block_ms <= 0:
                    # Nothing readable yet (another consumer's entries are not idle enough).
                    await self._sleep(min(0.2, options.claim_idle_ms / 4000))
            else:
                self.summary.stopped = self.stop.reason or SIGNAL
            await self.queue.leave()
        finally:
            self._finish(started)
        return self.summary

    def _errors(self) -> int:
        """Messages that went wrong so far: failed fetches, invalid or unsupported messages."""
        summary = self.summary
        return summary.failed + summary.validation_errors + summary.unsupported_types

    async def _read(self, count: int) -> list[Entry]:
        """A batch. A blocking read waits in slices so a stop is seen within one, and is never
        cancelled: what Redis handed over is processed, not dropped with an attempt spent."""
        remaining = self.options.block_ms
        while True:
            block = min(remaining, _BLOCK_SLICE_MS) if remaining > 0 else 0
            entries = await self.queue.read(count, block)
            remaining -= block
            if entries or remaining <= 0 or self.stop.requested:
                return entries

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    # -- one batch ------------------------------------------------------------------------

    async def _batch(self, entries: list[Entry]) -> None:
        summary = self.summary
        summary.total_processed += len(entries)
        summary.reclaimed += sum(1 for e in entries if e.reclaimed)
        dead: list[DeadLetter] = []
        done: list[str] = []
        deferred: list[Entry] = []
        self._down = []
        by_eco: dict[Ecosystem, list[_Request]] = {}
        for entry in entries:
            request = self._validate(entry, dead)
            if request is not None:
                eco = request.message.ecosystem()
                assert eco is not None  # parse_entry rejected unknown node types
                by_eco.setdefault(eco, []).append(request)
        finished = asyncio.Event()
        beat = asyncio.create_task(self._heartbeat([e.id for e in entries], finished))
        try:
            for eco, requests in by_eco.items():
                await self._extract(eco, requests, done, dead, deferred)
        finally:
            # Stopped by an event, not cancelled: a cancel landing inside a Redis command can be
            # swallowed by the client, and awaiting the task then hangs for ever.
            finished.set()
            await beat
        # Only now, with every graph write of the batch committed.
        written = await self.queue.dead_letter(dead)
        acked = await self.queue.ack(done)
        summary.dead_lettered += written
        summary.already_settled += len(dead) - written + len(done) - acked
        if deferred:
            # A registry outage is not the message's fault: its attempt is given back, so the
            # messages wait out the outage pending instead of ending up as dead letters.
            await self.queue.give_back(deferred)
            summary.deferred += len(deferred)
        if self._down:
            raise RegistryUnavailable("; ".join(self._down))

    def _validate(self, entry: Entry, dead: list[DeadLetter]) -> _Request | None:
        parsed = parse_entry(entry.fields)
        if isinstance(parsed, ExtractionMessage):
            eco = parsed.ecosystem()
            assert eco is not None
            if self._registry(eco) is None:
                parsed = Rejected(
                    UNSUPPORTED_TYPE,
                    f"node_type {parsed.node_type!r}: {eco.value} not supported yet",
                )
            else:
                name = eco.normalize_name(parsed.package)
                if name:
                    return _Request(entry, parsed, name)
                parsed = Rejected(INVALID_MESSAGE, "package: empty after normalisation")
        if parsed.reason == UNSUPPORTED_TYPE:
            self.summary.unsupported_types += 1
        else:
            self.summary.validation_errors += 1
        log.warning("dead-lettering %s: %s", entry.id, parsed.error)
        dead.append(DeadLetter(entry, parsed.reason, parsed.error))
        return None

    def _registry(self, eco: Ecosystem) -> Registry | None:
        if eco not in self._registries:
            try:
                self._registries[eco] = self._open_registry(eco)
            except ConfigError:  # the ecosystem's client is not built (yet)
                self._registries[eco] = None
        return self._registries[eco]

    async def _heartbeat(self, ids: list[str], finished: asyncio.Event) -> None:
        """Keep the batch's entries ours while a slow batch runs (claim idle would hand them on)."""
        interval = max(0.05, self.options.claim_idle_ms / 3000)
        while not finished.is_set():
            try:
                await asyncio.wait_for(finished.wait(), interval)
            except TimeoutError:
                try:
                    await self.queue.heartbeat(ids)
                except QueueUnavailable as exc:
                    # The batch goes on; if Redis stays away its ack fails and it is redone.
                    log.warning("heartbeat failed, will retry: %s", exc)

    async def _extract(
        self,
        eco: Ecosystem,
        requests: list[_Request],
        done: list[str],
        dead: list[DeadLetter],
        deferred: list[Entry],
    ) -> None:
        registry = self._registry(eco)
        assert registry is not None
        self.written.add(eco)
        names = sorted({r.name for r in requests})
        # A redelivered entry's worker may have died between the write of its package and the
        # publishing of the package's dependencies (issue 15): fetched again in full (not from
        # what the graph knows, which skips the known versions' requirements), so that discovery
        # runs, and its discoveries published past the discovery marks the dead worker may have
        # set just before its XADD. A duplicate costs one already-present ack.
        redone = (
            {r.name for r in requests if r.entry.reclaimed} if self.options.follow_deps else set()
        )
        refresh = {r.name for r in requests if r.message.refresh} | redone
        statuses = self.store.statuses(eco, names)
        wanted = [n for n in names if n in refresh or statuses.get(n) != EXTRACTED]
        known = self.store.known(
            eco, [n for n in wanted if statuses.get(n) == EXTRACTED and n not in redone]
        )
        extraction = Extraction(registry, self.store, batch_size=max(1, len(wanted)))
        extraction.attribute = self.options.attribute
        outcomes = await self._fetch_all(extraction, wanted, known)
        down = await self._registry_down(eco, list(outcomes.values()))
        drift = self.summary.schema_drift
        drift[eco.value] = drift.get(eco.value, 0) + sum(o.drift for o in outcomes.values())
        for fetched in outcomes.values():
            extraction.accept(fetched)
        extraction.flush()
        written = [o.record.name for o in outcomes.values() if o.record is not None]
        if written:
            classified = after_write(self.store, eco, dry_run=False, names=written)
            self.summary.classified = merge_hook(self.summary.classified, classified)

        links: list[ParentLink] = []
        for request in requests:
            outcome = outcomes.get(request.name)
            entry = request.entry
            if down is not None and outcome is not None and outcome.unreachable:
                deferred.append(entry)  # no attempt spent; retried once the registry is back
                continue
            if outcome is not None and outcome.error is not None:
                self.summary.failed += 1
                if entry.deliveries < self.options.max_attempts:
                    self.summary.retry_later += 1
                    continue  # left pending: redelivered once idle (XAUTOCLAIM)
                error = (
                    f"{outcome.error} (attempt {entry.deliveries} of {self.options.max_attempts})"
                )
                self.summary.failures.append((request.name, error))
                dead.append(DeadLetter(entry, FAILED, error))
            else:
                self.summary.successful += 1
                done.append(entry.id)
                if outcome is None:
                    self.summary.already_present += 1
                    if entry.reclaimed or entry.deliveries > 1:
                        self.summary.redeliveries_already_done += 1
                elif outcome.missing:
                    self.summary.missing += 1
            # The requirement is real even when the package could not be extracted.
            if request.message.parent_id:
                links.append(
                    ParentLink(
                        request.message.parent_id,
                        request.name,
                        request.message.constraints or "any",
                    )
                )
        self.summary.extracted += sum(1 for o in outcomes.values() if o.record is not None)
        if links:
            unknown = self.store.link_parents(eco, links)
            if unknown:
                self.summary.unknown_parents += len(unknown)
                log.warning("parent ids naming no Version/RequirementFile: %s", ", ".join(unknown))
        if self.options.follow_deps:
            records = [o.record for o in outcomes.values() if o.record is not None]
            await self._discover(eco, extraction, records, set(names), redone)

    async def _fetch_all(
        self, extraction: Extraction, names: list[str], known: dict[str, Any]
    ) -> dict[str, Outcome]:
        gate = asyncio.Semaphore(max(1, self.options.concurrency))

        async def one(name: str) -> Outcome:
            async with gate:
                return await extraction.fetch(name, known.get(name))

        results = await asyncio.gather(*(one(n) for n in names))
        return {o.name: o for o in results}

    async def _registry_down(self, eco: Ecosystem, outcomes: list[Outcome]) -> str | None:
        """Why the registry counts as down after this batch's fetches, or None.

        Down: UNREACHABLE_STREAK unreachable outcomes in a row (as for ingest), or every fetch of
        the batch unreachable and the registry's own probe URL failing too. The probe tells an
        outage from one package whose URLs fail (a small batch, a single redelivered message).
        """
        streak_error = None
        for outcome in outcomes:
            self._streak = self._streak + 1 if outcome.unreachable else 0
            if self._streak >= UNREACHABLE_STREAK:
                streak_error = outcome.error
        unreachable = [o for o in outcomes if o.unreachable]
        if streak_error is not None:
            reason = (
                f"{eco.value} registry unreachable for {self._streak} packages in a row: "
                f"{streak_error}"
            )
        elif unreachable and len(unreachable) == len(outcomes) and self.reachable is not None:
            if await self.reachable(eco):
                return None
            reason = (
                f"{eco.value} registry unreachable (its probe failed too): {unreachable[0].error}"
            )
        else:
            return None
        self._down.append(reason)
        return reason

    async def _discover(
        self,
        eco: Ecosystem,
        extraction: Extraction,
        records: list[PackageRecord],
        in_batch: set[str],
        redone: set[str],
    ) -> None:
        """Unknown dependencies become messages (not a recursion): the worker pool shares the tree.
        Those of a redone package (its entry redelivered) are published even when marked queued."""
        plans: dict[
            str, tuple[str, str, str]
        ] = {}  # dep -> (version purl, constraints, parent purl)
        forced: set[str] = set()
        for record in records:
            unknown = set(extraction.unextracted(extraction.dependencies(record))) - in_batch
            if not unknown:
                continue
            if record.name in redone:
                forced |= unknown
            serials = serial_numbers(eco, [v.name for v in record.versions])
            # The newest version requiring each dependency is the parent named in the message.
            for version in sorted(record.versions, key=lambda v: serials.get(v.name, -1)):
                for req in version.requirements or ():
                    if req.name in unknown:
                        plans[req.name] = (
                            eco.purl(record.name, version.name),
                            req.constraints,
                            record.purl,
                        )
        if not plans:
            return
        ids = self.store.version_ids(eco, {vpurl for vpurl, _, _ in plans.values()})
        messages = {
            dep: ExtractionMessage.request(
                eco,
                dep,
                constraints=constraints,
                parent_id=ids.get(vpurl),
                parent_version=parent,
            )
            for dep, (vpurl, constraints, parent) in sorted(plans.items())
        }
        for force in (False, True):
            chosen = [m for dep, m in messages.items() if (dep in forced) == force]
            if chosen:
                published = await self.queue.publish_discovered(chosen, force=force)
                self.summary.dependencies_enqueued += published

    def _finish(self, started: float) -> None:
        summary = self.summary
        summary.elapsed = round(time.monotonic() - started, 3)
        if summary.total_processed:
            summary.success_rate = round(100.0 * summary.successful / summary.total_processed, 2)
            summary.messages_per_second = round(
                summary.total_processed / max(summary.elapsed, 1e-6), 2
            )


async def drain(
    queue: Queue,
    store: GraphStore,
    open_registry: Callable[[Ecosystem], Registry],
    options: DrainOptions,
    stop: Stop | None = None,
    reachable: Callable[[Ecosystem], Awaitable[bool]] | None = None,
    progress: Advance | None = None,
) -> DrainSummary:
    """Process messages until empty, max-messages or stop; see Drain. The run is recorded
    (job drain-queue) and ends with the cheap checks of the ecosystems it wrote."""
    worker = Drain(queue, store, open_registry, options, stop, reachable, progress)
    with recorded_run(store, "drain-queue", None, dry_run=False, metrics=options.metrics) as run_id:
        summary = await worker.run()
        summary.run_id = run_id
        summary.vulnerabilities = inline_report(options.attribute)
        written = [eco for eco in Ecosystem if eco in worker.written]
        summary.graph_counts, summary.checks = checks.after_write(
            store, written, run_id, options.checks
        )
        if run_id is not None:
            store.finish_run(run_id, "failed" if summary.failures else "ok", summary.as_dict())
    return summary
