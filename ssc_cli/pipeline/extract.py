"""One extraction path shared by ingest, update and the queue: fetch, classify, buffer, write."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from ssc_cli.errors import (
    GraphUnavailable,
    MalformedPayload,
    PackageNotFound,
    RegistryUnavailable,
    SscError,
)
from ssc_cli.graph.interface import (
    EXTRACTED,
    MISSING,
    GraphStore,
    WriteStats,
    key_problem,
    record_problem,
)
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord
from ssc_cli.pipeline.observe import MetricsTarget, publish_run
from ssc_cli.progress import Advance
from ssc_cli.registries.interface import Registry

log = logging.getLogger(__name__)

# This many consecutive "registry unreachable" outcomes end a run (exit 4) instead of recording
# every remaining package as failed.
UNREACHABLE_STREAK = 25

# Called with each batch of records just before it is written: inline vulnerability attribution
# (ssc_cli.vulns.sources.InlineAttribution) fills in every version's advisories and scores.
RecordHook = Callable[[Sequence[PackageRecord]], None]


@dataclass(slots=True)
class Outcome:
    """What became of one package."""

    name: str
    record: PackageRecord | None = None
    missing: bool = False
    error: str | None = None
    unreachable: bool = False
    drift: bool = False  # a payload with a field of the wrong type or shape (MalformedPayload)


@dataclass
class Extraction:
    """Fetches packages through a registry and writes them to a store in batches."""

    registry: Registry
    store: GraphStore
    dry_run: bool = False
    batch_size: int = 100
    progress: Advance | None = None
    attribute: RecordHook | None = None
    stats: WriteStats = field(default_factory=WriteStats)
    failures: list[tuple[str, str]] = field(default_factory=list)
    missing_count: int = 0
    schema_drift: int = 0  # failures that were payloads of an unexpected shape
    _streak: int = 0
    _buffer: list[PackageRecord] = field(default_factory=list)
    _missing: list[str] = field(default_factory=list)

    async def fetch(self, name: str, known: KnownPackage | None = None) -> Outcome:
        """Fetch one package; every failure becomes an Outcome with its reason, never an escape."""
        eco = self.registry.ecosystem
        problem = key_problem(eco, name)
        if problem is not None:  # not even asked for: the graph could not record the answer
            return Outcome(name, error=f"{eco.value} package {problem}; not fetched")
        try:
            record = await self.registry.fetch(name, known)
        except PackageNotFound:
            return Outcome(name, missing=True)
        except RegistryUnavailable as exc:
            return Outcome(name, error=str(exc), unreachable=True)
        except GraphUnavailable:
            raise
        except MalformedPayload as exc:
            return Outcome(name, error=str(exc), drift=exc.schema_drift)
        except SscError as exc:
            return Outcome(name, error=str(exc))
        except Exception as exc:  # a parser bug must cost one package, not the run
            log.debug("unexpected error extracting %s", name, exc_info=True)
            return Outcome(name, error=f"internal error: {type(exc).__name__}: {exc}")
        problem = record_problem(record)
        if problem is not None:
            return Outcome(name, error=problem)
        return Outcome(name, record=record)

    def settle(self, outcome: Outcome) -> None:
        """Count the outcome (a failure keeps its reason), queue its write, watch for an outage."""
        self._streak = self._streak + 1 if outcome.unreachable else 0
        failed = not outcome.missing and outcome.record is None and outcome.error is not None
        if outcome.missing:
            self.missing_count += 1
        elif failed:
            assert outcome.error is not None
            self.failures.append((outcome.name, outcome.error))
            self.schema_drift += outcome.drift
        self.accept(outcome)
        if self.progress is not None:
            self.progress(1, errors=int(failed))
        if self._streak >= UNREACHABLE_STREAK:
            eco = self.registry.ecosystem.value
            raise RegistryUnavailable(
                f"{eco} registry unreachable for {self._streak} packages in a row: {outcome.error}"
            )

    def accept(self, outcome: Outcome) -> None:
        """Queue the outcome's write; flush when a batch is full."""
        if outcome.record is not None:
            self._buffer.append(outcome.record)
            if len(self._buffer) >= self.batch_size:
                self.flush()
        elif outcome.missing:
            self._missing.append(outcome.name)

    def flush(self) -> None:
        """Write what is buffered in one transaction."""
        records, self._buffer = self._buffer, []
        missing, self._missing = self._missing, []
        if self.dry_run:
            return
        if records:
            if self.attribute is not None:
                self.attribute(records)  # vulnerabilities: before the write, in the same batch
            written = self.store.write_packages(records)
            self.stats.packages += written.packages
            self.stats.new_versions += written.new_versions
            self.stats.removed_versions += written.removed_versions
        if missing:
            self.store.mark(self.registry.ecosystem, missing, MISSING, "not found in the registry")

    def dependencies(self, record: PackageRecord) -> set[str]:
        """Targets of the record's edges."""
        return {
            req.name for version in record.versions for req in (version.requirements or ()) if req
        }

    def unextracted(self, names: Iterable[str]) -> list[str]:
        """Names among these the graph does not hold as extracted."""
        wanted = sorted(set(names))
        if not wanted:
            return []
        statuses = self.store.statuses(self.registry.ecosystem, wanted)
        return [n for n in wanted if statuses.get(n) != EXTRACTED]


def run_status(stopped: str | None, failures: list[tuple[str, str]]) -> str:
    """The status a finished run record gets: stopped (by a signal), failed (some packages) or ok."""
    if stopped is not None:
        return "stopped"
    return "failed" if failures else "ok"


@contextmanager
def recorded_run(
    store: GraphStore,
    job: str,
    ecosystem: Ecosystem | None,
    *,
    dry_run: bool,
    metrics: MetricsTarget | None = None,
) -> Iterator[int | None]:
    """Open the job's run record (none for a dry run) and close it as aborted when the run dies
    (registry down, graph down, Ctrl-C); yields its id. Either way the job's metrics file is
    written last, from the record (SSC_METRICS_DIR)."""
    run_id = None if dry_run else store.start_run(job, ecosystem)
    try:
        yield run_id
    except BaseException as exc:
        if run_id is not None:
            with suppress(SscError):
                store.finish_run(run_id, "aborted", {"error": str(exc) or type(exc).__name__})
        publish_run(store, metrics, job, ecosystem, run_id)
        raise
    publish_run(store, metrics, job, ecosystem, run_id)
