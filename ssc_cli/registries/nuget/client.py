"""NuGet: the V3 catalog as source of truth, archived leaf by leaf; registration for strays.

reference/registries.md §4 and issue 4. The service index (SSC_NUGET_URL) names every other
resource, so a private feed or a mirror works as announced. Listing walks the whole catalog
(index → pages sorted by commitTimeStamp → leaves) into the archive; an update walks only the
pages and items committed after the watermark. fetch() builds a package from archived leaves;
a name the archive does not describe completely is resolved through its registration index
and the catalog leaves it points at, which are archived too.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ssc_cli.concurrency import all_or_first_error
from ssc_cli.errors import ConfigError, HttpStatusError, MalformedPayload, PayloadTooLarge
from ssc_cli.http import Http
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord, VersionRecord
from ssc_cli.registries.archives import zip_member_names
from ssc_cli.registries.interface import (
    ChangeSet,
    CursorLag,
    StoreView,
    measured,
    raise_not_found,
)
from ssc_cli.registries.nuget import parse
from ssc_cli.registries.nuget.catalog import (
    DETAILS,
    CatalogArchive,
    CatalogItem,
    StoredItem,
    canonical_ts,
    version_key,
)
from ssc_cli.repository import normalize_repository_url, vendor_of
from ssc_cli.settings import Settings

log = logging.getLogger(__name__)

# The registration hive trails the catalog by minutes (§4.3); a package read through it is
# taken to reflect the catalog only up to this long before the response.
REGISTRATION_LAG = timedelta(hours=1)
_KNOWN_CHUNK = 500
# Statuses meaning "this artefact is not there" (a package without one simply has none);
# anything else after the HTTP layer's retries fails the package so the next run retries it.
_ABSENT = frozenset({403, 404, 410, 416})


class NuGetRegistry:
    """Client of a NuGet V3 feed (nuget.org or any feed whose service index is SSC_NUGET_URL)."""

    ecosystem = Ecosystem.NUGET

    def __init__(self, settings: Settings, http: Http) -> None:
        self.index_url = settings.nuget_url
        self.http = http
        self.kinds = settings.kinds
        self.import_names = settings.import_names
        self.max_entries = settings.archive_max_entries
        self.rate = settings.nuget_rate
        self.concurrency = settings.nuget_concurrency
        self.archive_root = settings.data_dir / "nuget" / "catalog"
        http.limit_host(self.index_url, rate=self.rate, concurrency=self.concurrency)
        self._archive: CatalogArchive | None = None
        self._resources: parse.Resources | None = None
        self._resources_lock = asyncio.Lock()
        self._listing_cursor: dict[str, Any] | None = None
        self._resolved_since: str | None = None  # oldest as-of of this run's registrations
        self.stats = {"catalog_pages": 0, "catalog_leaves": 0, "registration_leaves": 0}

    @property
    def archive(self) -> CatalogArchive:
        """The leaf archive under the data directory (opened on first use)."""
        if self._archive is None:
            self._archive = CatalogArchive(self.archive_root)
        return self._archive

    async def resources(self) -> parse.Resources:
        """Base URLs from the service index, read once per run."""
        async with self._resources_lock:
            if self._resources is None:
                data = await self.http.get_json(self.index_url)
                self._resources = parse.parse_service_index(data, self.index_url)
                hosts = {self.index_url}
                for url in (
                    self._resources.catalog,
                    self._resources.registration,
                    self._resources.package_base,
                ):
                    if url and _host(url) not in {_host(h) for h in hosts}:
                        hosts.add(url)
                        self.http.limit_host(url, rate=self.rate, concurrency=self.concurrency)
            return self._resources

    # -- listing and changes --------------------------------------------------------------

    async def list_names(self) -> AsyncIterator[str]:
        """Walk the whole catalog into the archive, yielding each page's ids once it is kept.

        Already archived pages are not read again, so an interrupted walk resumes. Until a
        first walk has completed, the archive does not describe any id completely, so a
        package fetched meanwhile is resolved through its registration (see fetch).
        """
        started_from = self.archive.walked_through if self.archive.from_start else None
        seen: set[str] = set()
        reached: str | None = None
        async for newest, ids in self._pages(since=None):
            if newest is not None and (reached is None or newest > reached):
                reached = newest
            for name in ids:
                if name not in seen:
                    seen.add(name)
                    yield name
        self.archive.advance(None, reached, from_start=True)
        # Packages fetched while the walk went on reflect the archive as the walk found it
        # (or a registration as of its response): the first update must start before both.
        marks = [m for m in (started_from, self._resolved_since, reached) if m is not None]
        self._listing_cursor = {"watermark": min(marks)} if marks else None
        for name in list(self.archive.ids()):  # ids whose leaves came through a registration
            if name not in seen:
                yield name

    def listing_cursor(self) -> dict[str, Any] | None:
        return self._listing_cursor

    async def changes(self, view: StoreView) -> ChangeSet:
        """Stored ids with a catalog item committed after the watermark.

        Only pages and items newer than the watermark are read; the returned watermark is
        the newest commitTimeStamp archived, saved by the pipeline after its writes commit.
        """
        cursor = view.cursor("update") or {}
        since = cursor.get("watermark") if isinstance(cursor.get("watermark"), str) else None
        if since is not None:
            since = canonical_ts(since)
        else:
            since = await self._first_watermark()
        before = dict(self.stats)
        reached = await self._walk(since=since)
        self.archive.advance(since, reached, from_start=False)
        changed = self.archive.ids_since(since)
        stored: list[str] = []
        for start in range(0, len(changed), _KNOWN_CHUNK):
            chunk = changed[start : start + _KNOWN_CHUNK]
            known = view.known(chunk)
            # Pending targets are ingest's to extract; an update refreshes extracted ones.
            stored.extend(n for n in chunk if n in known and known[n].status == "extracted")
        watermark = max(reached, since) if reached and since else (reached or since)
        notes = {key: self.stats[key] - before[key] for key in self.stats}
        notes["ids_changed"] = len(changed)
        return ChangeSet(
            names=stored, cursor={"watermark": watermark} if watermark else None, notes=notes
        )

    async def cursor_lag(self, cursor: Mapping[str, Any]) -> CursorLag:
        """Seconds between the watermark and the catalog index's commitTimeStamp: the catalog
        index document, found through the service index (V3 clients must not guess URLs, so
        this registry costs two requests)."""
        source = "commitTimeStamp of the catalog index"
        raw = cursor.get("watermark")
        index = await self._catalog_index()
        try:
            head = canonical_ts(index.commit_ts)
        except ValueError as exc:
            raise MalformedPayload(f"catalog index: {exc}", url=self.index_url) from exc
        try:
            stored = canonical_ts(raw) if isinstance(raw, str) else None
        except ValueError:
            stored = None
        if stored is None:
            return CursorLag(None, "seconds", source, head, raw, "no watermark in the cursor")
        seconds = int((_moment(head) - _moment(stored)).total_seconds())
        behind = "the catalog's head is older than the watermark (a different feed?)"
        lag = measured(seconds, 0, "seconds", source, behind=behind)
        return replace(lag, head=head, cursor=stored)

    async def _first_watermark(self) -> str | None:
        """Where an update without a cursor starts (documented in docs/ecosystems/nuget.md)."""
        if self.archive.walked_through is not None:
            return self.archive.walked_through
        earliest = self.archive.earliest_resolution()
        if earliest is not None:
            return earliest
        index = await self._catalog_index()
        return index.commit_ts  # nothing was ever read: the graph starts from now

    async def _catalog_index(self) -> parse.CatalogIndex:
        resources = await self.resources()
        if resources.catalog is None:
            raise ConfigError(
                f"{self.index_url} announces no {parse.CATALOG} resource; ssc lists and updates "
                "NuGet feeds through the catalog (use ingest --names-from for such a feed)"
            )
        data = await self.http.get_json(resources.catalog)
        return parse.parse_catalog_index(data, resources.catalog)

    async def _walk(self, since: str | None) -> str | None:
        """Archive every page (and its items) committed after since; the newest item reached."""
        reached: str | None = None
        async for newest, _ in self._pages(since):
            if newest is not None and (reached is None or newest > reached):
                reached = newest
        return reached

    async def _pages(self, since: str | None) -> AsyncIterator[tuple[str | None, list[str]]]:
        """Pages committed after since, oldest first, archived: (newest item, ids) of each."""
        index = await self._catalog_index()
        pages = [ref for ref in index.items if since is None or ref.commit_ts > since]
        log.info("nuget catalog: %d of %d pages after %s", len(pages), len(index.items), since)
        for done, ref in enumerate(pages, 1):
            state = self.archive.page_state(ref.id)
            if state is not None and state == (ref.commit_ts, ref.count, True):
                yield self.archive.page_max_ts(ref.id), self.archive.page_ids(ref.id)
                continue
            yield await self._archive_page(ref, since)
            if self.stats["catalog_pages"] % 50 == 0:  # a first nuget.org walk takes days
                log.info(
                    "nuget catalog: page %d/%d archived, %d leaves read so far",
                    done,
                    len(pages),
                    self.stats["catalog_leaves"],
                )

    async def _archive_page(
        self, ref: parse.CatalogPageRef, since: str | None
    ) -> tuple[str | None, list[str]]:
        data = await self.http.get_json(ref.id, conditional=False)
        self.stats["catalog_pages"] += 1
        _, items = parse.parse_catalog_page(data, ref.id)
        wanted = [item for item in items if since is None or item.commit_ts > since]
        have = self.archive.archived(item.leaf_url for item in items)
        missing = list({i.leaf_url: i for i in wanted if i.leaf_url not in have}.values())
        leaves = await all_or_first_error(self._leaf(item.leaf_url) for item in missing)
        self.stats["catalog_leaves"] += len(missing)
        covered = have | {item.leaf_url for item in missing}
        complete = all(item.leaf_url in covered for item in items)
        # The page's newest item, even when its leaf was archived earlier through a
        # registration: a watermark short of it would report that id changed on every run.
        newest = max((item.commit_ts for item in items), default=None)
        self.archive.store_page(
            ref.id,
            ref.commit_ts,
            ref.count,
            list(zip(missing, leaves, strict=True)),
            complete=complete,
            max_ts=newest,
        )
        return newest, list(dict.fromkeys(item.lower_id for item in items))

    async def _leaf(self, url: str) -> dict[str, Any]:
        data = await self.http.get_json(url, conditional=False)
        parse.leaf_item(data, url)  # a leaf that is not one fails here, with its URL
        leaf: dict[str, Any] = data
        return leaf

    # -- one package ----------------------------------------------------------------------

    async def fetch(self, name: str, known: KnownPackage | None = None) -> PackageRecord:
        lower = self.ecosystem.normalize_name(name)
        if not self.archive.knows(lower):
            await self._resolve(lower)
        record = package_from_archive(self.archive, lower, self.kinds)
        newest = newest_version(record.versions)
        if newest is None:
            if self.import_names:
                record.import_names = []  # every version deleted: no .nupkg names anything
            return record
        if record.repository_url == "n/a":
            await self._read_nuspec(record, newest)
        if record.repository_url == "n/a":
            project = normalize_repository_url(record.licenses.get("projectUrl"))
            record.repository_url = project or "n/a"
        record.vendor = vendor_of(record.repository_url)
        if self.import_names:
            record.import_names = await self._import_names(lower, newest.name)
        return record

    async def _resolve(self, lower: str) -> None:
        """Archive an id's current leaves found through its registration index (§4.2)."""
        resources = await self.resources()
        if resources.registration is None:
            raise ConfigError(f"{self.index_url} announces no RegistrationsBaseUrl resource")
        url = f"{resources.registration}{lower}/index.json"
        try:
            index, served = await self.http.get_parsed(
                url,
                lambda r: (parse.parse_registration_index(r.json(), url), r.headers.get("date")),
            )
        except HttpStatusError as exc:
            raise_not_found(exc, self.ecosystem, lower)
            raise
        leaves: list[parse.RegistrationLeaf] = []
        for page in index.items:
            if page.items is None:  # ≥128 versions: pages of 64 are not inlined
                page = parse.parse_registration_page(
                    await self.http.get_json(page.id, conditional=True), page.id
                )
            leaves.extend(page.items or [])
        pointers = [(leaf, _entry_url(leaf)) for leaf in leaves]
        have = self.archive.archived(u for _, u in pointers if u)
        todo = [(leaf, u) for leaf, u in pointers if not u or u not in have]
        payloads = await all_or_first_error(
            self._registration_leaf(leaf, u, url) for leaf, u in todo
        )
        self.stats["registration_leaves"] += len(todo)
        as_of = _as_of(served, index.commit_ts)
        if self._resolved_since is None or as_of < self._resolved_since:
            self._resolved_since = as_of
        self.archive.store_resolved(lower, as_of, list(payloads))

    async def _registration_leaf(
        self, leaf: parse.RegistrationLeaf, leaf_url: str | None, index_url: str
    ) -> tuple[CatalogItem, dict[str, Any]]:
        """The catalog leaf a registration entry points at; the entry itself if unreachable."""
        entry = leaf.catalog_entry if isinstance(leaf.catalog_entry, dict) else None
        payload: dict[str, Any] | None = None
        if leaf_url:
            try:
                payload = await self._leaf(leaf_url)
            except HttpStatusError as exc:
                if exc.status != 404 or entry is None:
                    raise
                log.debug("catalog leaf %s is gone; using the registration entry", leaf_url)
        if payload is None:
            if entry is None:
                raise MalformedPayload(
                    f"{index_url}: registration entry without a leaf", url=index_url
                )
            payload = dict(entry)
            payload.setdefault("@type", "PackageDetails")
        item = parse.leaf_item(payload, leaf_url or index_url)
        if not leaf_url and item.leaf_url == index_url:
            # The archive keys leaves by URL; entries without one would all fall back to the
            # index URL and every version but the first would be dropped as already archived.
            item = replace(item, leaf_url=entry_key(index_url, item))
        if not item.commit_ts:
            stamp = leaf.commit_ts or "0001-01-01T00:00:00Z"
            item = replace(item, commit_ts=canonical_ts(stamp))
        return item, payload

    async def _read_nuspec(self, record: PackageRecord, newest: VersionRecord) -> None:
        """Repository from the newest version's .nuspec (leaves rarely carry it, §4.2)."""
        resources = await self.resources()
        if resources.package_base is None:
            return
        vlower = version_key(newest.name)
        url = f"{resources.package_base}{record.name}/{vlower}/{record.name}.nuspec"
        try:
            spec = await self.http.get_parsed(url, lambda r: parse.parse_nuspec(r.content, url))
        except MalformedPayload as exc:
            log.debug("no usable .nuspec for %s: %s", record.name, exc)
            return
        except HttpStatusError as exc:
            if exc.status not in _ABSENT:
                raise  # transient (429/5xx after retries): fail the package so it is retried
            log.debug("no .nuspec for %s: %s", record.name, exc)
            return
        if spec.repository_url:
            record.repository_url = spec.repository_url

    async def _import_names(self, lower: str, version: str) -> list[str]:
        """lib/**.dll names of the newest .nupkg, read from its zip central directory."""
        resources = await self.resources()
        if resources.package_base is None:
            return []
        vlower = version_key(version)
        url = f"{resources.package_base}{lower}/{vlower}/{lower}.{vlower}.nupkg"
        try:
            members = await zip_member_names(self.http, url, max_entries=self.max_entries)
        except (MalformedPayload, PayloadTooLarge) as exc:
            log.debug("no import names for %s %s: %s", lower, version, exc)
            return []
        except HttpStatusError as exc:
            if exc.status not in _ABSENT:
                raise  # transient: fail the package rather than store it without names
            log.debug("no .nupkg for %s %s: %s", lower, version, exc)
            return []
        return parse.dll_import_names(members)


# -- offline: packages from the archive alone -------------------------------------------------


def package_from_archive(
    archive: CatalogArchive, lower: str, kinds: frozenset[str]
) -> PackageRecord:
    """A package built from archived leaves only (no network): every version still published."""
    stored = archive.current(lower)
    details: list[tuple[StoredItem, dict[str, Any]]] = [
        (s, archive.read_leaf(s)) for s in stored if s.item.type == DETAILS
    ]
    versions = [parse.version_record(leaf, kinds) for _, leaf in details]
    record = PackageRecord(
        ecosystem=Ecosystem.NUGET,
        name=lower,
        versions=versions,
        token=max((s.item.commit_ts for s in stored), default=None),
        complete=True,
    )
    newest = newest_version(versions)
    if newest is not None:
        leaf = next(leaf for _, leaf in details if leaf.get("version") == newest.name)
        record.licenses = dict(newest.licenses)
        record.repository_url = parse.leaf_repository(leaf) or "n/a"
        record.vendor = vendor_of(record.repository_url)
        if isinstance(leaf.get("id"), str) and leaf["id"] != lower:
            record.extra["display_name"] = leaf["id"]
    return record


class ArchivedPackages:
    """Packages as the leaf archive under data_dir describes them: `ssc rebuild nuget`'s source."""

    ecosystem = Ecosystem.NUGET

    def __init__(self, data_dir: Path, kinds: frozenset[str]) -> None:
        root = data_dir / "nuget" / "catalog"
        # Opening a CatalogArchive creates an empty one; a rebuild must not pretend to have one.
        if not (root / "index.sqlite").is_file():
            raise ConfigError(
                f"no NuGet leaf archive under {root}; `ssc ingest nuget` builds it "
                "(check SSC_DATA_DIR)"
            )
        self.archive = CatalogArchive(root)
        self.kinds = kinds

    def names(self) -> list[str]:
        """Every id the archive has seen, sorted (not all of them described completely)."""
        return list(self.archive.ids())

    def package(self, name: str) -> PackageRecord | None:
        """The package from archived leaves only; None when the archive lacks some of it."""
        lower = self.ecosystem.normalize_name(name)
        # An id seen only by an update's partial walk would lose the versions never read.
        if not self.archive.knows(lower):
            return None
        return package_from_archive(self.archive, lower, self.kinds)

    def close(self) -> None:
        self.archive.close()


def rebuild_from_archive(data_dir: Path, kinds: frozenset[str]) -> Iterator[PackageRecord]:
    """Every package the archive under data_dir describes completely, rebuilt offline.

    No network, hence no .nuspec and no import names (`ssc rebuild nuget` keeps the stored ones).
    """
    source = ArchivedPackages(data_dir, kinds)
    try:
        for lower in source.names():
            record = source.package(lower)
            if record is not None:
                yield record
    finally:
        source.close()


def newest_version(versions: list[VersionRecord]) -> VersionRecord | None:
    """Highest listed version (any version when none is listed); unparseable ones last."""

    def rank(version: VersionRecord) -> tuple[bool, bool, Any]:
        try:
            return (not version.yanked, True, Ecosystem.NUGET.version_key(version.name))
        except ValueError:
            return (not version.yanked, False, None)

    candidates = [v for v in versions if _parses(v.name)] or versions
    return max(candidates, key=rank, default=None)


def _parses(version: str) -> bool:
    try:
        Ecosystem.NUGET.version_key(version)
    except ValueError:
        return False
    return True


def entry_key(index_url: str, item: CatalogItem) -> str:
    """Archive key of a registration entry without a catalog leaf: index URL, id and version."""
    return f"{index_url}#{item.lower_id}@{version_key(item.version)}"


def _entry_url(leaf: parse.RegistrationLeaf) -> str | None:
    entry = leaf.catalog_entry
    url = entry if isinstance(entry, str) else entry.get("@id")
    return url if isinstance(url, str) and url else None


def _as_of(date_header: str | None, fallback: str | None) -> str:
    """Catalog time a registration response reflects: its Date minus the registration lag."""
    if date_header:
        try:
            moment = email.utils.parsedate_to_datetime(date_header).astimezone(UTC)
            return canonical_ts((moment - REGISTRATION_LAG).strftime("%Y-%m-%dT%H:%M:%SZ"))
        except (TypeError, ValueError):
            pass
    return canonical_ts(fallback) if fallback else "0001-01-01T00:00:00.0000000Z"


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


def _moment(canonical: str) -> datetime:
    """A canonical_ts as an aware datetime (to the microsecond: the lag is whole seconds)."""
    return datetime.fromisoformat(canonical[:26] + "+00:00")
