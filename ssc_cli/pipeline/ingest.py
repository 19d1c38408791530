"""ingest: the registry listing minus what the graph has, pending ones first, dependencies followed."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssc_cli.graph.interface import EXTRACTED, PENDING, GraphStore, now_iso
from ssc_cli.pipeline.extract import Extraction, Outcome, RecordHook, recorded_run, run_status
from ssc_cli.pipeline.observe import MetricsTarget
from ssc_cli.pipeline.scheduler import run_bounded
from ssc_cli.pipeline.stop import Stop
from ssc_cli.progress import Advance
from ssc_cli.quality.checks import Thresholds
from ssc_cli.registries.interface import Registry
from ssc_cli.vulns.sources import inline_report

_LISTING_CHUNK = 500
# `seen` is pruned of the names the graph holds once it grows past this: a run's memory then
# follows its packages in flight, not the listing (npm lists 3 million names; issue 16).
_SEEN_PRUNE_AT = 50_000


@dataclass
class IngestOptions:
    limit: int | None = None
    dry_run: bool = False
    follow_deps: bool = True
    names: Sequence[str] | None = None  # --names-from: exactly these instead of the listing
    concurrency: int = 8
    batch_size: int = 100
    checks: Thresholds | None = None  # the cheap checks after writing (None: none)
    metrics: MetricsTarget | None = None  # the job's Prometheus file (SSC_METRICS_DIR)
    attribute: RecordHook | None = None  # inline vulnerability attribution


@dataclass
class IngestSummary:
    total_in_registry: int = 0
    listing_complete: bool = False
    new_packages_ingested: int = 0
    skipped_existing: int = 0
    dependencies_discovered: int = 0
    missing: int = 0
    pending_left: int = 0
    errors: int = 0
    # Per ecosystem: packages whose payload had a field of the wrong type or shape (each also
    # a failure with its reason); `ssc status` shows it, the metrics count it.
    schema_drift: dict[str, int] = field(default_factory=dict)
    new_versions: int = 0
    ingestion_rate: float = 0.0
    requests: int = 0
    http: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    stopped: str | None = None  # "signal": ended early by SIGTERM/SIGINT (pipeline/stop.py)
    run_id: int | None = None
    classified: dict[str, Any] | None = None  # the end-of-run licence classification
    vulnerabilities: dict[str, Any] | None = None  # inline attribution's counters
    graph_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["failures"] = [{"package": n, "reason": r} for n, r in self.failures]
        return data


class _Names:
    """Where the next name comes from: discovered dependencies and pending ones, then the listing."""

    def __init__(
        self,
        extraction: Extraction,
        listing: AsyncIterator[str],
        summary: IngestSummary,
        *,
        track_listing: bool = True,
    ) -> None:
        self.extraction = extraction
        self.listing = listing
        self.summary = summary
        self.priority: deque[str] = deque()
        self.fresh: deque[str] = deque()
        # Names queued in this run and not yet known to the graph as extracted. Listings name
        # each package once; the set keeps a listed name from being queued again when it is
        # also discovered as a dependency before its batch is written. Without fetches
        # (--enqueue) listed names need no tracking: only prioritised ones are kept.
        self.seen: set[str] = set()
        self.track_listing = track_listing
        self.discovered = 0
        self._prune_at = _SEEN_PRUNE_AT
        self.listing_done = False

    def prioritise(self, names: list[str]) -> None:
        for name in names:
            if name not in self.seen:
                self.seen.add(name)
                self.priority.append(name)
                self.discovered += 1
        if len(self.seen) > self._prune_at:
            self._prune()

    def _prune(self) -> None:
        """Forget names the graph now holds as extracted: the store check covers them."""
        eco = self.extraction.registry.ecosystem
        names = list(self.seen)
        for start in range(0, len(names), _LISTING_CHUNK):
            chunk = names[start : start + _LISTING_CHUNK]
            statuses = self.extraction.store.statuses(eco, chunk)
            self.seen.difference_update(n for n in chunk if statuses.get(n) == EXTRACTED)
        self._prune_at = max(_SEEN_PRUNE_AT, 2 * len(self.seen))

    async def next(self) -> str | None:
        if self.priority:
            return self.priority.popleft()
        while not self.fresh and not self.listing_done:
            await self._refill()
        return self.fresh.popleft() if self.fresh else None

    async def _refill(self) -> None:
        eco = self.extraction.registry.ecosystem
        chunk: list[str] = []
        async for raw in self.listing:
            self.summary.total_in_registry += 1
            name = eco.normalize_name(raw)
            if name and name not in self.seen:
                if self.track_listing:
                    self.seen.add(name)
                chunk.append(name)
            if len(chunk) >= _LISTING_CHUNK:
                break
        else:
            self.listing_done = True
        if len(self.seen) > self._prune_at:
            self._prune()
        statuses = self.extraction.store.statuses(eco, chunk) if chunk else {}
        for name in chunk:
            if statuses.get(name) == EXTRACTED:
                self.summary.skipped_existing += 1
            else:
                self.fresh.append(name)


async def _iterate(names: Sequence[str]) -> AsyncIterator[str]:
    for name in names:
        yield name


async def ingest(
    registry: Registry,
    store: GraphStore,
    options: IngestOptions,
    *,
    http_counters: Callable[[], dict[str, int]] = dict,
    progress: Advance | None = None,
    stop: Stop | None = None,
) -> IngestSummary:
    """Extract every package the graph lacks (up to options.limit), recording every failure.

    A stop ends it early: what was fetched is written, no cursor is saved, `stopped` is set.
    """
    eco = registry.ecosystem
    started = time.monotonic()
    summary = IngestSummary()
    with recorded_run(
        store, "ingest", eco, dry_run=options.dry_run, metrics=options.metrics
    ) as summary.run_id:
        return await _ingest(
            registry, store, options, summary, started, http_counters, progress, stop
        )


async def _ingest(
    registry: Registry,
    store: GraphStore,
    options: IngestOptions,
    summary: IngestSummary,
    started: float,
    http_counters: Callable[[], dict[str, int]],
    progress: Advance | None,
    stop: Stop | None,
) -> IngestSummary:
    eco = registry.ecosystem
    since = now_iso()  # packages written from now on are this run's (licence hook)
    extraction = Extraction(
        registry, store, dry_run=options.dry_run, batch_size=options.batch_size, progress=progress
    )
    extraction.attribute = options.attribute
    summary.failures = extraction.failures  # one list: filled as outcomes settle
    listing = _iterate(options.names) if options.names is not None else registry.list_names()
    names = _Names(extraction, listing, summary)
    if options.names is None:
        names.prioritise(store.pending(eco))
    attempts = 0

    async def next_name() -> str | None:
        nonlocal attempts
        if options.limit is not None and attempts >= options.limit:
            return None
        name = await names.next()
        if name is not None:
            attempts += 1
        return name

    def on_done(outcome: Outcome) -> None:
        if outcome.record is not None:
            summary.new_packages_ingested += 1
            if options.follow_deps:
                found = extraction.unextracted(extraction.dependencies(outcome.record))
                before = names.discovered
                names.prioritise(found)
                summary.dependencies_discovered += names.discovered - before
        extraction.settle(outcome)

    completed = False
    try:
        completed = await run_bounded(
            next_name, extraction.fetch, on_done, max(1, options.concurrency), stop
        )
    finally:
        extraction.flush()
        summary.missing = extraction.missing_count
        summary.schema_drift = {eco.value: extraction.schema_drift}
        _finish(store, registry, options, summary, started, http_counters)
    summary.listing_complete = names.listing_done
    if not completed and stop is not None:
        summary.stopped = stop.reason
    elif not options.dry_run and names.listing_done and options.names is None:
        cursor = registry.listing_cursor()
        if cursor is not None and store.cursor(eco, "update") is None:
            store.set_cursor(eco, "update", cursor)
    summary.new_versions = extraction.stats.new_versions
    # Classification and the checks load once the run is over, not before its first request
    # (issue 8).
    from ssc_cli.pipeline import checks
    from ssc_cli.pipeline.classify import after_write

    summary.classified = after_write(store, eco, dry_run=options.dry_run, since=since)
    summary.vulnerabilities = inline_report(options.attribute)
    summary.graph_counts, summary.checks = checks.after_write(
        store, [eco], summary.run_id, options.checks
    )
    if not options.dry_run and summary.run_id is not None:
        store.finish_run(
            summary.run_id, run_status(summary.stopped, summary.failures), summary.as_dict()
        )
    return summary


def _finish(
    store: GraphStore,
    registry: Registry,
    options: IngestOptions,
    summary: IngestSummary,
    started: float,
    http_counters: Callable[[], dict[str, int]],
) -> None:
    eco = registry.ecosystem
    if not options.dry_run and summary.run_id is not None:
        store.record_failures(summary.run_id, eco, summary.failures)
    summary.errors = len(summary.failures)
    summary.pending_left = store.count(eco, PENDING)
    attempted = summary.new_packages_ingested + summary.errors + summary.missing
    summary.ingestion_rate = (
        round(100.0 * summary.new_packages_ingested / attempted, 2) if attempted else 100.0
    )
    summary.http = http_counters()  # requests, retries, not_modified (304s), bytes
    summary.requests = summary.http.get("requests", 0)
    summary.elapsed = round(time.monotonic() - started, 3)


@dataclass
class PublishSummary:
    total_in_registry: int = 0
    listing_complete: bool = False
    skipped_existing: int = 0
    enqueued: int = 0
    elapsed: float = 0.0
    stopped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def publish_new(
    registry: Registry,
    store: GraphStore,
    publish: Callable[[list[str]], Awaitable[int]],
    options: IngestOptions,
    stop: Stop | None = None,
) -> PublishSummary:
    """ingest --enqueue: the same names ingest would extract (pending first), sent to the queue;
    a stop ends it between chunks, after publishing the chunk in hand."""
    started = time.monotonic()
    counts = IngestSummary()
    extraction = Extraction(registry, store, dry_run=True)
    listing = _iterate(options.names) if options.names is not None else registry.list_names()
    names = _Names(extraction, listing, counts, track_listing=False)
    if options.names is None:
        names.prioritise(store.pending(registry.ecosystem))
    summary = PublishSummary()
    chunk: list[str] = []
    while options.limit is None or summary.enqueued + len(chunk) < options.limit:
        name = await names.next()
        if name is None:
            break
        chunk.append(name)
        if len(chunk) >= _LISTING_CHUNK:
            summary.enqueued += await publish(chunk)
            chunk = []
            if stop is not None and stop.requested:
                summary.stopped = stop.reason
                break
    if chunk:
        summary.enqueued += await publish(chunk)
    summary.total_in_registry = counts.total_in_registry
    summary.skipped_existing = counts.skipped_existing
    summary.listing_complete = names.listing_done
    summary.elapsed = round(time.monotonic() - started, 3)
    return summary
