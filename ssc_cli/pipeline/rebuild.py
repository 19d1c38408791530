"""rebuild: rewrite stored packages from a registry's raw archive, offline (issue 4).

Only registries whose client keeps every raw payload can be rebuilt (NuGet's leaf archive,
docs/ecosystems/nuget.md). Versions, their properties and edges come from the archive with
the current settings (SSC_DEPENDENCY_KINDS, say); what the archive cannot know offline —
repository, vendor, import names — is kept from the stored package. No HTTP client exists in
this path, so a rebuild cannot make a request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ssc_cli.errors import ConfigError
from ssc_cli.graph.interface import EXTRACTED, GraphStore, now_iso
from ssc_cli.models import Ecosystem, PackageRecord
from ssc_cli.pipeline import checks
from ssc_cli.pipeline.classify import after_write
from ssc_cli.pipeline.extract import RecordHook, recorded_run, run_status
from ssc_cli.pipeline.observe import MetricsTarget
from ssc_cli.pipeline.stop import Stop
from ssc_cli.progress import Advance
from ssc_cli.quality.checks import Thresholds
from ssc_cli.registries import ARCHIVED
from ssc_cli.settings import Settings
from ssc_cli.vulns.sources import inline_report

log = logging.getLogger(__name__)


class PackageArchive(Protocol):
    """Packages as a registry's raw archive describes them, read without the network."""

    ecosystem: Ecosystem

    def names(self) -> list[str]:
        """Every package the archive has seen."""
        ...

    def package(self, name: str) -> PackageRecord | None:
        """The package from the archive alone; None when the archive lacks part of it."""
        ...

    def close(self) -> None: ...


def open_archive(ecosystem: Ecosystem, settings: Settings) -> PackageArchive:
    """The raw archive of a registry that keeps one; a usage error for any other."""
    if ecosystem is Ecosystem.NUGET:
        from ssc_cli.registries.nuget.client import ArchivedPackages

        return ArchivedPackages(settings.data_dir, settings.kinds)
    names = ", ".join(e.value for e in ARCHIVED)
    raise ConfigError(
        f"`ssc rebuild` reads a raw registry archive and {ecosystem.value} keeps none; "
        f"use one of {names}"
    )


@dataclass
class RebuildOptions:
    names: Sequence[str] | None = None  # --name: only these instead of the whole archive
    dry_run: bool = False
    batch_size: int = 100
    checks: Thresholds | None = None  # the cheap checks after writing (None: none)
    metrics: MetricsTarget | None = None  # the job's Prometheus file (SSC_METRICS_DIR)
    attribute: RecordHook | None = None  # inline vulnerability attribution


@dataclass
class RebuildSummary:
    packages_checked: int = 0
    packages_rebuilt: int = 0
    versions: int = 0  # versions of the rebuilt packages
    new_versions: int = 0
    removed_versions: int = 0
    not_extracted: int = 0  # archived but not extracted in the graph: ingest writes those
    retry_pending: int = 0  # last refresh failed: update refetches those online
    incomplete: int = 0  # the archive does not describe them completely
    errors: int = 0
    requests: int = 0  # always 0, reported like every job's
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


def rebuild(
    archive: PackageArchive,
    store: GraphStore,
    options: RebuildOptions,
    *,
    progress: Advance | None = None,
    stop: Stop | None = None,
) -> RebuildSummary:
    """Rewrite every extracted package the archive describes (or options.names) offline; a stop
    ends it between chunks (each chunk is one write) with `stopped` set."""
    eco = archive.ecosystem
    started = time.monotonic()
    summary = RebuildSummary()
    since = now_iso()  # packages written from now on are this run's (licence hook)
    with recorded_run(
        store, "rebuild", eco, dry_run=options.dry_run, metrics=options.metrics
    ) as summary.run_id:
        _Rebuild(archive, store, options, summary, progress).run(stop)
        summary.classified = after_write(store, eco, dry_run=options.dry_run, since=since)
        summary.vulnerabilities = inline_report(options.attribute)
    summary.errors = len(summary.failures)
    summary.elapsed = round(time.monotonic() - started, 3)
    summary.graph_counts, summary.checks = checks.after_write(
        store, [eco], summary.run_id, options.checks
    )
    if summary.run_id is not None:
        status = run_status(summary.stopped, summary.failures)
        store.finish_run(summary.run_id, status, summary.as_dict())
    return summary


class _Rebuild:
    """One run over names in chunks: a status query, a read per package, one write per chunk."""

    def __init__(
        self,
        archive: PackageArchive,
        store: GraphStore,
        options: RebuildOptions,
        summary: RebuildSummary,
        progress: Advance | None,
    ) -> None:
        self.archive = archive
        self.store = store
        self.options = options
        self.summary = summary
        self.progress = progress
        self.eco = archive.ecosystem
        self.explicit = options.names is not None
        self.errors: list[tuple[str, str]] = []  # failures of extracted packages, recorded
        self.retry: set[str] = set()

    def run(self, stop: Stop | None = None) -> None:
        """Rebuild chunk by chunk; failures of extracted packages are recorded in the run."""
        if self.options.names is not None:
            names = list(dict.fromkeys(self.eco.normalize_name(n) for n in self.options.names))
        else:
            names = self.archive.names()
        # Packages whose last refresh failed wait for update; usually few, so read them once.
        self.retry = set(self.store.retry_names(self.eco))
        size = max(1, self.options.batch_size)
        try:
            for start in range(0, len(names), size):
                if stop is not None and stop.requested:
                    self.summary.stopped = stop.reason
                    break
                chunk = names[start : start + size]
                failed_before = len(self.summary.failures)
                self._chunk(chunk)
                if self.progress is not None:
                    self.progress(len(chunk), errors=len(self.summary.failures) - failed_before)
        finally:
            if self.summary.run_id is not None:
                # last_error makes the next update refetch them online.
                self.store.record_failures(self.summary.run_id, self.eco, self.errors)

    def _chunk(self, names: list[str]) -> None:
        statuses = self.store.statuses(self.eco, names)
        records = [
            record for name in names if (record := self._one(name, statuses.get(name))) is not None
        ]
        self.summary.packages_checked += len(names)
        if records and not self.options.dry_run:
            if self.options.attribute is not None:
                self.options.attribute(records)  # vulnerabilities: before the write
            written = self.store.write_packages(records)
            self.summary.new_versions += written.new_versions
            self.summary.removed_versions += written.removed_versions
        self.summary.packages_rebuilt += len(records)
        self.summary.versions += sum(len(r.versions) for r in records)

    def _one(self, name: str, status: str | None) -> PackageRecord | None:
        """The rebuilt record of one package, or None (counted, with a reason when named)."""
        if status != EXTRACTED:
            self._not_extracted(name)
            return None
        if name in self.retry:
            self.summary.retry_pending += 1
            self._skip(name, f"its last refresh failed; `ssc update {self.eco.value}` retries it")
            return None
        try:
            record = self.archive.package(name)
        except Exception as exc:  # a damaged archive file must cost one package, not the run
            log.debug("cannot rebuild %s from the archive", name, exc_info=True)
            reason = f"unreadable archive: {type(exc).__name__}: {exc}"
            self.summary.failures.append((name, reason))
            self.errors.append((name, reason))
            return None
        if record is None:
            self.summary.incomplete += 1
            self._skip(
                name,
                "the archive does not describe it completely; "
                f"`ssc update {self.eco.value} --full` refetches it",
            )
            return None
        stored = self.store.show(self.eco, name)
        if stored is None or stored.get("status") != EXTRACTED:
            self._not_extracted(name)
            return None
        _keep_online_fields(record, stored)
        if self.options.dry_run:
            self._count_diff(record, stored)
        return record

    def _not_extracted(self, name: str) -> None:
        self.summary.not_extracted += 1
        self._skip(name, f"not extracted in the graph; `ssc ingest {self.eco.value}` writes it")

    def _skip(self, name: str, reason: str) -> None:
        """A package not rebuilt: a failure only when it was asked for by name (not recorded)."""
        if self.explicit:
            self.summary.failures.append((name, reason))

    def _count_diff(self, record: PackageRecord, stored: dict[str, Any]) -> None:
        """--dry-run: the version changes the write would make (records are complete)."""
        have = {str(v["name"]) for v in stored.get("versions", [])}
        names = {v.name for v in record.versions}
        self.summary.new_versions += len(names - have)
        self.summary.removed_versions += len(have - names)


def _keep_online_fields(record: PackageRecord, stored: dict[str, Any]) -> None:
    """What only the network tells (.nuspec repository, .nupkg names) comes from the graph."""
    record.repository_url = str(stored.get("repository_url") or "n/a")
    record.vendor = str(stored.get("vendor") or "n/a")
    record.import_names = [str(n) for n in stored.get("import_names") or []]
