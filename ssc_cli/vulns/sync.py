"""ssc vulns sync: OSV records from files, directories, zips or an osv.dev-layout mirror.

Every record is validated where it enters; a bad one (malformed JSON, a failed field, an
ecosystem the OSV schema does not define, a zip member that does not read) is named in the
summary and the rest are loaded. A record is written whole or not at all, in batches of one
transaction each, and only when its `modified` is newer than the stored copy.

From a mirror (osv.dev's bucket layout, docs/vulnerabilities.md): per ecosystem folder,
`modified_id.csv` first; with no cursor the folder's `all.zip`, else the records modified after
the cursor minus an overlap window (the CSV sorts timestamps as text, so `…:05Z` comes before
`…:05.1Z`), one `<ID>.json` each or `all.zip` when there are many. The folder's cursor moves to
the CSV's newest timestamp only after every record it covers is committed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from ssc_cli import json_payload
from ssc_cli.errors import HttpStatusError, RegistryUnavailable, SscError
from ssc_cli.models import Ecosystem
from ssc_cli.progress import Advance
from ssc_cli.vulns.ecosystems import from_osv, is_defined, osv_name
from ssc_cli.vulns.interface import InvalidRecord, iso, parse_advisory
from ssc_cli.vulns.osv import Loaded, OsvStore
from ssc_cli.vulns.severity import rejected_vectors, score

if TYPE_CHECKING:
    from ssc_cli.http import Http

log = logging.getLogger(__name__)

BATCH = 500


class Stop(Protocol):
    """What sync reads of ssc_cli.pipeline.stop.Stop (vulns does not import the pipeline)."""

    @property
    def requested(self) -> bool: ...

    reason: str | None


MAX_RECORD_BYTES = 16 * 1024 * 1024  # the largest osv.dev records are a few MB
OVERLAP = timedelta(seconds=60)


@dataclass
class SyncSummary:
    sources: list[str] = field(default_factory=list)
    records_read: int = 0
    records_loaded: int = 0
    records_skipped: int = 0  # not newer than the stored copy
    records_withdrawn: int = 0  # loaded ones carrying `withdrawn`
    records_other_ecosystems: int = 0  # valid, but naming no ecosystem ssc ingests
    unscored_advisories: int = 0  # loaded ones without a usable CVSS score
    packages_changed: int = 0
    by_ecosystem: dict[str, int] = field(default_factory=dict)
    cursors_saved: list[str] = field(default_factory=list)
    invalid: list[dict[str, str]] = field(default_factory=list)
    rejected_vectors: list[dict[str, str]] = field(default_factory=list)
    errors: int = 0
    requests: int = 0
    http: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    stopped: str | None = None  # "signal": a SIGTERM/SIGINT ended it between batches
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def failed(self) -> bool:
        return bool(self.invalid or self.rejected_vectors)


@dataclass(frozen=True, slots=True)
class Item:
    """One record as read from somewhere: its JSON object, or why it could not be read."""

    source: str
    raw: Any = None
    error: str | None = None


class Loader:
    """Validates items and writes them in batches; counts everything into the summary."""

    def __init__(
        self,
        store: OsvStore,
        summary: SyncSummary,
        stop: Stop | None = None,
        progress: Advance | None = None,
    ) -> None:
        self.store = store
        self.summary = summary
        self.stop = stop
        self.progress = progress  # one per record read, an invalid one counted as an error
        self._batch: list[Loaded] = []
        self._changed: set[tuple[str, str]] = set()

    def add(self, item: Item) -> bool:
        """Queue one item; False when it was bad input (named in the summary)."""
        good = self._add(item)
        if self.progress is not None:
            self.progress(1, errors=int(not good))
        return good

    def _add(self, item: Item) -> bool:
        summary = self.summary
        summary.records_read += 1
        if item.error is not None:
            summary.invalid.append({"source": item.source, "reason": item.error})
            return False
        try:
            advisory = parse_advisory(item.raw)
            unknown = sorted(
                {
                    a.package.ecosystem
                    for a in advisory.affected
                    if a.package is not None and not is_defined(a.package.ecosystem)
                }
            )
            if unknown:
                raise InvalidRecord(
                    f"{advisory.id}: unknown ecosystem {', '.join(map(repr, unknown))} (OSV "
                    "ecosystem names are case-sensitive: PyPI, npm, Maven, NuGet, crates.io, RubyGems)"
                )
        except InvalidRecord as exc:
            summary.invalid.append({"source": item.source, "reason": str(exc)})
            return False
        if not any(a.package and from_osv(a.package.ecosystem) for a in advisory.affected):
            summary.records_other_ecosystems += 1
            return True
        for problem in rejected_vectors(advisory):
            summary.rejected_vectors.append({"id": advisory.id, "reason": problem})
        self._batch.append(Loaded(advisory, item.raw))
        if len(self._batch) >= BATCH:
            self.flush()
        return True

    @property
    def stopping(self) -> bool:
        """A stop was asked for: the batch in hand is written, no more items are read."""
        if self.stop is not None and self.stop.requested:
            self.summary.stopped = self.stop.reason
            return True
        return False

    def flush(self) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        result = self.store.upsert(batch)
        summary = self.summary
        summary.records_skipped += result.skipped
        summary.records_loaded += len(result.loaded)
        for advisory in result.loaded:
            if advisory.withdrawn is not None:
                summary.records_withdrawn += 1
            if score(advisory).value is None:
                summary.unscored_advisories += 1
            for eco in {from_osv(a.package.ecosystem) for a in advisory.affected if a.package}:
                if eco is not None:
                    summary.by_ecosystem[eco.value] = summary.by_ecosystem.get(eco.value, 0) + 1
        self._changed |= result.packages_changed
        summary.packages_changed = len(self._changed)


# -- local files ------------------------------------------------------------------------------


def read_path(path: Path) -> Iterator[Item]:
    """Records of a .json file (one record or an array), a .zip, or a directory of both."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix.lower() in (".json", ".zip"):
                yield from read_path(child)
        return
    if path.suffix.lower() == ".zip":
        yield from read_zip(path, str(path))
        return
    try:
        data = json_payload.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        yield Item(str(path), error=f"not a readable JSON file: {exc}")
        return
    if isinstance(data, list):
        for index, raw in enumerate(data):
            yield Item(f"{path}[{index}]", raw)
    else:
        yield Item(str(path), data)


def read_zip(path: Path, label: str, wanted: set[str] | None = None) -> Iterator[Item]:
    """Members of an osv.dev `all.zip` (`<ID>.json` each); wanted limits them to some ids."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        yield Item(label, error=f"not a readable zip archive: {exc}")
        return
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            where = f"{label}:{info.filename}"
            if not info.filename.lower().endswith(".json"):
                yield Item(where, error="not a .json member (osv.dev zips hold <ID>.json files)")
                continue
            if wanted is not None and Path(info.filename).stem not in wanted:
                continue
            if info.file_size > MAX_RECORD_BYTES:
                yield Item(
                    where, error=f"member of {info.file_size} bytes exceeds {MAX_RECORD_BYTES}"
                )
                continue
            try:
                data = json.loads(archive.read(info))
            except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError, ValueError, ...
                yield Item(where, error=f"unreadable member: {type(exc).__name__}: {exc}")
                continue
            yield Item(where, data)


def load_items(loader: Loader, items: Iterable[Item]) -> bool:
    """True when every item was good."""
    ok = True
    for number, item in enumerate(items, 1):
        ok = loader.add(item) and ok
        if number % BATCH == 0 and loader.stopping:
            break
    loader.flush()
    return ok


# -- an osv.dev-layout mirror -----------------------------------------------------------------


def parse_modified_csv(text: str, source: str) -> list[tuple[datetime, str]]:
    """Rows `<RFC 3339 modified>,<ID>` (no header), newest first as the exporter writes them."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        stamp, _, ident = line.partition(",")
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRecord(
                f"{source} line {number}: {line[:80]!r} is not '<modified>,<ID>'"
            ) from None
        if not ident or "/" in ident:
            raise InvalidRecord(f"{source} line {number}: {line[:80]!r} has no record id")
        rows.append((moment, ident))
    return rows


@dataclass
class MirrorSync:
    """Incremental sync of some ecosystem folders of one mirror."""

    http: Http
    store: OsvStore
    base_url: str
    cache_dir: Path
    zip_threshold: int = 250
    progress: Advance | None = None
    stop: Stop | None = None

    async def run(self, ecosystems: Iterable[Ecosystem], summary: SyncSummary) -> None:
        for eco in ecosystems:
            if self.stop is not None and self.stop.requested:
                summary.stopped = self.stop.reason
                return
            await self.folder(osv_name(eco), summary)

    async def folder(self, folder: str, summary: SyncSummary) -> None:
        base = self.base_url.rstrip("/")
        csv_url = f"{base}/{quote(folder)}/modified_id.csv"
        summary.sources.append(f"{base}/{folder}")
        try:
            response = await self.http.get(csv_url, conditional=True)
            rows = parse_modified_csv(response.text(), csv_url)
        except HttpStatusError as exc:
            summary.invalid.append(
                {
                    "source": csv_url,
                    "reason": f"{exc}; is SSC_OSV_URL a mirror with osv.dev's layout?",
                }
            )
            return
        except InvalidRecord as exc:
            summary.invalid.append({"source": csv_url, "reason": str(exc)})
            return
        if not rows:
            return
        newest = max(moment for moment, _ in rows)
        cursor = self.store.sync_cursor(folder)
        since = None
        if cursor and cursor.get("url") == base and cursor.get("modified"):
            since = datetime.fromisoformat(str(cursor["modified"]).replace("Z", "+00:00"))
        wanted = None if since is None else {i for m, i in rows if m > since - OVERLAP}
        loader = Loader(self.store, summary, self.stop, self.progress)
        bad_before = len(summary.invalid)
        if wanted is not None and not wanted:
            ok = True
        elif wanted is None or len(wanted) > self.zip_threshold:
            ok = await self._from_zip(base, folder, loader, wanted)
        else:
            ok = await self._one_by_one(base, folder, loader, sorted(wanted))
        loader.flush()
        # A stopped folder keeps its cursor: the records loaded stay (each is newer than the
        # stored copy), the next run fetches the rest again.
        if ok and not loader.stopping and len(summary.invalid) == bad_before:
            self.store.set_sync_cursor(folder, {"url": base, "modified": iso(newest)})
            summary.cursors_saved.append(folder)

    async def _from_zip(
        self, base: str, folder: str, loader: Loader, wanted: set[str] | None
    ) -> bool:
        url = f"{base}/{quote(folder)}/all.zip"
        dest = self.cache_dir / "osv" / folder.replace("/", "_") / "all.zip"
        try:
            await self.http.download(url, dest)
        except HttpStatusError as exc:
            loader.summary.invalid.append({"source": url, "reason": str(exc)})
            return False
        # Reading members is CPU work: off the loop, batch by batch.
        return await asyncio.to_thread(load_items, loader, read_zip(dest, url, wanted))

    async def _one_by_one(self, base: str, folder: str, loader: Loader, ids: list[str]) -> bool:
        ok = True
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            items = await asyncio.gather(*(self._record(base, folder, i) for i in chunk))
            for item in items:
                ok = loader.add(item) and ok
            if loader.stopping:
                break
        return ok

    async def _record(self, base: str, folder: str, ident: str) -> Item:
        url = f"{base}/{quote(folder)}/{quote(ident)}.json"
        try:
            return Item(url, await self.http.get_json(url, conditional=False))
        except HttpStatusError as exc:
            return Item(url, error=f"listed in modified_id.csv but {exc}")
        except RegistryUnavailable:
            raise  # the mirror is down: exit 4, nothing skipped
        except SscError as exc:  # a body that never parses, one too large
            return Item(url, error=str(exc))


def finish(summary: SyncSummary, started: float, http_counters: dict[str, int]) -> None:
    summary.errors = len(summary.invalid) + len(summary.rejected_vectors)
    summary.http = http_counters
    summary.requests = http_counters.get("requests", 0)
    summary.elapsed = round(time.monotonic() - started, 3)
