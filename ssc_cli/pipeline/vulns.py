"""The vulnerability use cases: `vulns sync` (records in) and `vulns attribute` (stored versions).

Loops run in batches (one source query and one store transaction each), so progress and the
stop mechanism slot in between batches.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssc_cli.graph.interface import EXTRACTED, PENDING, GraphStore, VersionVulnRow
from ssc_cli.models import Ecosystem
from ssc_cli.pipeline.extract import recorded_run
from ssc_cli.pipeline.stop import Stop
from ssc_cli.progress import Advance
from ssc_cli.vulns.attribute import Attributor
from ssc_cli.vulns.ecosystems import rules
from ssc_cli.vulns.interface import VulnerabilitySource
from ssc_cli.vulns.osv import OsvStore
from ssc_cli.vulns.sync import Loader, MirrorSync, SyncSummary, finish, load_items, read_path

if TYPE_CHECKING:
    from ssc_cli.http import Http

ATTRIBUTE_CURSOR = "vulns-attribute"


def graph_ecosystems(store: GraphStore) -> list[Ecosystem]:
    """Ecosystems the graph holds packages of."""
    return [e for e in Ecosystem if store.count(e, EXTRACTED) or store.count(e, PENDING)]


# -- sync -------------------------------------------------------------------------------------


@dataclass
class SyncOptions:
    paths: Sequence[Path] = ()
    urls: Sequence[str] = ()  # a .zip or .json URL, or a mirror root
    mirror: str | None = None  # SSC_OSV_URL when no PATH/URL is given
    ecosystems: Sequence[Ecosystem] = ()
    zip_threshold: int = 250
    cache_dir: Path = Path(".")


async def sync(
    store: GraphStore,
    osv: OsvStore,
    http: Http | None,
    options: SyncOptions,
    *,
    progress: Advance | None = None,
    stop: Stop | None = None,
) -> SyncSummary:
    """Load records; the run record goes to the graph store (job `vulns-sync`)."""
    started = time.monotonic()
    summary = SyncSummary()
    with recorded_run(store, "vulns-sync", None, dry_run=False) as summary.run_id:
        for path in options.paths:
            if stop is not None and stop.requested:
                summary.stopped = stop.reason
                break
            summary.sources.append(str(path))
            load_items(Loader(osv, summary, stop, progress), read_path(path))
        mirrors = list(options.urls) if options.urls else []
        if options.mirror:
            mirrors.append(options.mirror)
        for url in mirrors:
            if stop is not None and stop.requested:
                summary.stopped = stop.reason
                break
            assert http is not None, "URLs need the HTTP layer"
            if url.lower().endswith((".zip", ".json")):
                await _one_url(http, osv, url, summary, options.cache_dir, progress)
            else:
                mirror = MirrorSync(
                    http, osv, url, options.cache_dir, options.zip_threshold, progress, stop
                )
                await mirror.run(options.ecosystems, summary)
        finish(summary, started, http.counters.as_dict() if http else {})
        if summary.run_id is not None:
            status = "stopped" if summary.stopped else "failed" if summary.failed else "ok"
            store.finish_run(summary.run_id, status, summary.as_dict())
    return summary


async def _one_url(
    http: Http,
    osv: OsvStore,
    url: str,
    summary: SyncSummary,
    cache: Path,
    progress: Advance | None = None,
) -> None:
    import asyncio
    import hashlib

    from ssc_cli.errors import HttpStatusError
    from ssc_cli.vulns.sync import Item, read_zip

    summary.sources.append(url)
    loader = Loader(osv, summary, progress=progress)
    try:
        if url.lower().endswith(".zip"):
            dest = cache / "osv" / "urls" / hashlib.sha1(url.encode()).hexdigest() / "all.zip"
            await http.download(url, dest)
            await asyncio.to_thread(load_items, loader, read_zip(dest, url))
        else:
            load_items(loader, [Item(url, await http.get_json(url))])
    except HttpStatusError as exc:
        summary.invalid.append({"source": url, "reason": str(exc)})


# -- attribute --------------------------------------------------------------------------------


@dataclass
class AttributeOptions:
    ecosystems: Sequence[Ecosystem] = ()
    all: bool = False
    dry_run: bool = False
    batch_size: int = 500


@dataclass
class AttributeSummary:
    source: str = ""
    ecosystems: list[str] = field(default_factory=list)
    mode: dict[str, str] = field(default_factory=dict)  # per ecosystem: all / changed
    changed_records: int = 0
    packages_named: int = 0
    packages_reattributed: int = 0
    versions_reattributed: int = 0
    versions_changed: int = 0
    newly_vulnerable: int = 0
    no_longer_vulnerable: int = 0
    vulnerable_versions: int = 0
    advisories_matched: int = 0
    unscored_advisories: int = 0
    unparseable_versions: int = 0
    unparseable_sample: list[str] = field(default_factory=list)
    git_ranges_skipped: int = 0
    # Bad input the source met (MongoDB documents: the embedded store's were named by sync).
    invalid_records: list[str] = field(default_factory=list)
    rejected_vectors: list[dict[str, str]] = field(default_factory=list)
    cursors_saved: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    stopped: str | None = None  # "signal": a SIGTERM/SIGINT ended it between batches
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def failed(self) -> bool:
        """Finished, but some records could not be read or scored (exit 1)."""
        return bool(self.invalid_records or self.rejected_vectors)


def attribute(
    store: GraphStore,
    source: VulnerabilitySource,
    options: AttributeOptions,
    *,
    progress: Advance | None = None,
    stop: Stop | None = None,
) -> AttributeSummary:
    """Re-attribute stored versions: those of packages named by advisories changed since this
    ecosystem's cursor, plus never-attributed ones (or all with options.all). Writes only the
    versions whose fields change; the cursor moves after the ecosystem's last batch."""
    started = time.monotonic()
    summary = AttributeSummary(source=f"{source.kind} {source.target}")
    attributor = Attributor(source)
    with recorded_run(store, "vulns-attribute", None, dry_run=options.dry_run) as summary.run_id:
        for eco in options.ecosystems or graph_ecosystems(store):
            if stop is not None and stop.requested:
                summary.stopped = stop.reason
                break
            summary.ecosystems.append(eco.value)
            cursor = None if options.all else store.cursor(eco, ATTRIBUTE_CURSOR)
            changes = source.changes(eco, cursor)
            summary.changed_records += changes.records
            names = _names(store, eco, changes.names)
            summary.mode[eco.value] = "all" if changes.names is None else "changed"
            summary.packages_named += len(names)
            for start in range(0, len(names), max(1, options.batch_size)):
                if stop is not None and stop.requested:
                    # Batches written stay written; the cursor stays, so the next run redoes
                    # this ecosystem's named packages (writing only what still changes).
                    summary.stopped = stop.reason
                    break
                batch = names[start : start + options.batch_size]
                _batch(store, attributor, eco, batch, options.dry_run, summary)
                if progress is not None:
                    progress(len(batch))
            if summary.stopped is not None:
                break
            if not options.dry_run:
                store.set_cursor(eco, ATTRIBUTE_CURSOR, changes.cursor)
                summary.cursors_saved.append(eco.value)
        stats = attributor.stats.as_dict()
        for key in ("vulnerable_versions", "advisories_matched", "unscored_advisories",
                    "unparseable_versions", "unparseable_sample", "git_ranges_skipped"):  # fmt: skip
            setattr(summary, key, stats[key])
        summary.invalid_records = list(source.invalid)
        summary.rejected_vectors = list(source.rejected_vectors)
        summary.elapsed = round(time.monotonic() - started, 3)
        if summary.run_id is not None:
            status = "stopped" if summary.stopped else "failed" if summary.failed else "ok"
            store.finish_run(summary.run_id, status, summary.as_dict())
    return summary


def _names(store: GraphStore, eco: Ecosystem, keys: set[str] | None) -> list[str]:
    """Graph names of the packages to re-attribute: every extracted one (keys None), else those
    whose match name is a changed key, plus those with never-attributed versions."""
    if keys is None:
        return [name for name, _ in store.tokens(eco)]
    wanted = set(store.unattributed_packages(eco))
    if eco is Ecosystem.CARGO:
        # crates.io names compare with `-` = `_`; the graph keeps the published spelling.
        match_name = rules(eco).match_name
        wanted |= {name for name, _ in store.tokens(eco) if match_name(name) in keys}
    else:
        wanted |= keys  # the match spelling is the graph's for the other ecosystems
    return sorted(wanted)


def _batch(
    store: GraphStore,
    attributor: Attributor,
    eco: Ecosystem,
    names: list[str],
    dry_run: bool,
    summary: AttributeSummary,
) -> None:
    stored = store.vuln_rows(eco, names)
    packages = {name: [row.name for row in rows] for name, rows in stored.items()}
    result = attributor.attribute(eco, packages)
    updates = []
    for name, rows in stored.items():
        summary.packages_reattributed += 1
        summary.versions_reattributed += len(rows)
        for row in rows:
            new = result[name][row.name]
            fresh = VersionVulnRow(
                row.purl,
                row.name,
                tuple(new.vulnerabilities),
                new.mean,
                new.weighted_mean,
                new.unscored,
            )
            if fresh == row:
                continue
            updates.append(fresh)
            if new.vulnerabilities and not row.vulnerabilities:
                summary.newly_vulnerable += 1
            elif row.vulnerabilities and not new.vulnerabilities:
                summary.no_longer_vulnerable += 1
    summary.versions_changed += len(updates)
    if updates and not dry_run:
        store.write_vulns(updates)
