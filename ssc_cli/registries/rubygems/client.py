"""RubyGems client: compact index for names, versions and runtime dependencies; API v1 for the rest.

registries.md §6: `/versions` lists every gem, `/info/<gem>` gives each live version's runtime
dependencies and `created_at`, `/api/v1/versions/<gem>.json` licences and platforms. The daily
update reads what was appended to `/versions` since the stored byte offset (rubygems_feed.py).
One Version node per version number: platform builds collapse into `extra["platforms"]`
(securechain-compat.md §6-18 created one node per platform).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from ssc_cli.errors import HttpStatusError, MalformedPayload, PayloadTooLarge, RegistryError
from ssc_cli.http import Http, HttpResponse
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord, Requirement
from ssc_cli.registries.interface import (
    ChangeSet,
    CursorLag,
    StoreView,
    head_number,
    measured,
    raise_not_found,
)
from ssc_cli.registries.rubygems.compact_index import (
    RUBY,
    InfoEntry,
    VersionsIndex,
    VersionsLine,
    parse_info,
)
from ssc_cli.registries.rubygems.feed import (
    Appended,
    FeedCursor,
    LocalCopy,
    VersionsFeed,
    parse_digest,
)
from ssc_cli.registries.rubygems.gem import gem_data_members, require_paths
from ssc_cli.registries.rubygems.records import (
    API_VERSIONS,
    ApiGem,
    ApiVersion,
    ApiVersionDetail,
    base_entry,
    collapse_versions,
    development_requirements,
    first_repository,
    group_entries,
    licenses,
    newest,
    newest_release,
)
from ssc_cli.repository import vendor_of
from ssc_cli.settings import Settings


class DigestMismatch(MalformedPayload):
    """A body that does not match the checksum the registry published for it: a transfer
    fault, not a property of the artefact, so it is never read as "no data"."""

    schema_drift = False


log = logging.getLogger(__name__)

ECO = Ecosystem.RUBYGEMS
# Stored statuses an appended `/versions` line can concern: pending ones are taken by ingest.
_REFRESHED_STATUSES = frozenset({"extracted", "missing"})


class RubyGemsRegistry:
    """rubygems.org (or a mirror serving the compact index and API v1)."""

    ecosystem = ECO

    def __init__(self, settings: Settings, http: Http) -> None:
        self.settings = settings
        self.http = http
        self.base = settings.rubygems_url.rstrip("/")
        http.limit_host(
            self.base, rate=settings.rubygems_rate, concurrency=settings.rubygems_concurrency
        )
        key = hashlib.sha1(self.base.encode()).hexdigest()[:16]
        # State, not cache: the update cursor is only usable with these bytes, and CronJob pods
        # get a fresh cache dir each run (a lost copy costs a full /versions refetch).
        local = LocalCopy(settings.data_dir / "rubygems" / f"versions-{key}")
        self.feed = VersionsFeed(http, f"{self.base}/versions", local)
        # Gem names are case-sensitive on the wire but lower-case in the graph.
        self._spellings: dict[str, str] = {}
        self._names_lock = asyncio.Lock()
        self._names_loaded = False
        self._listing: FeedCursor | None = None

    # -- listing --------------------------------------------------------------------------

    async def list_names(self) -> AsyncIterator[str]:
        """Every gem with a live version in `/versions` (the header and `---` are not gems)."""
        full = await self.feed.full()
        self._listing = full.cursor
        for name in full.index.names():
            self._remember(name)
            yield name

    def listing_cursor(self) -> dict[str, Any] | None:
        return self._listing.as_dict() if self._listing is not None else None

    # -- one gem --------------------------------------------------------------------------

    async def fetch(self, name: str, known: KnownPackage | None = None) -> PackageRecord:
        """The gem with every live version: /info, /api/v1/versions, then .gem for import names."""
        normalized = ECO.normalize_name(name)
        raw, info = await self._info(name, normalized)
        entries = parse_info(info.decode("utf-8", errors="replace"), self._info_url(raw))
        for entry in entries:
            for dep, _ in entry.dependencies:
                self._remember(dep, published=False)
        api = await self._api_versions(raw, normalized)
        grouped = group_entries(entries)
        kinds = self.settings.kinds
        versions = collapse_versions(grouped, api, runtime="runtime" in kinds)
        if "dev" in kinds:
            for version, group in zip(versions, grouped.values(), strict=True):
                if known is not None and version.name in known.versions:
                    version.requirements = None  # stored edges stay: one request per version
                    continue
                dev = await self._development(raw, version.name, base_entry(group).platform)
                version.requirements = [*(version.requirements or []), *dev]
        record = PackageRecord(
            ecosystem=ECO,
            name=normalized,
            versions=versions,
            # The MD5 `/versions` publishes for this gem: what the next update compares.
            token=hashlib.md5(info).hexdigest(),
        )
        top = newest(list(grouped))
        if top is not None:
            base = base_entry(grouped[top])
            api_top = next((v for v in api if (v.number, v.platform) == (top, base.platform)), None)
            record.licenses = licenses(api_top)
            record.repository_url = await self._repository(raw, api_top)
            record.vendor = vendor_of(record.repository_url)
            if self.settings.import_names:
                release = newest_release(list(grouped)) or top
                build = base_entry(grouped[release])
                record.import_names = await self._import_names(raw, release, build)
        return record

    async def _info(self, name: str, normalized: str) -> tuple[str, bytes]:
        """(spelling that worked, body) of /info; a 404 retries once with the published spelling."""
        raw = self._spellings.get(normalized, name)
        try:
            response = await self._get_verified(self._info_url(raw), conditional=True)
        except HttpStatusError as exc:
            if exc.status != 404:
                raise
            respelled = await self._respell(normalized)
            if respelled is None or respelled == raw:
                raise_not_found(exc, ECO, normalized)
                raise  # unreachable: raise_not_found always raises
            raw = respelled
            try:
                response = await self._get_verified(self._info_url(raw), conditional=True)
            except HttpStatusError as again:
                raise_not_found(again, ECO, normalized)
                raise
        return raw, response.content

    async def _get_verified(
        self,
        url: str,
        *,
        conditional: bool = False,
        max_bytes: int | None = None,
        sha256: str | None = None,
    ) -> HttpResponse:
        """GET a body and check it against sha256 (hex) or the server's Repr-Digest.

        A body that does not match (a proxy or a torn transfer altered it) is dropped from the
        cache and fetched again, then reported: parsing a damaged /info would lose versions.
        """

        def verified(response: HttpResponse) -> HttpResponse:
            expected = bytes.fromhex(sha256) if sha256 else parse_digest(response.headers)
            if expected is not None and hashlib.sha256(response.content).digest() != expected:
                raise DigestMismatch(f"{url}: body does not match its SHA-256", url=url)
            return response

        return await self.http.get_parsed(
            url, verified, conditional=conditional, max_bytes=max_bytes
        )

    def _info_url(self, raw: str) -> str:
        return f"{self.base}/info/{quote(raw, safe='')}"

    async def _api_versions(self, raw: str, normalized: str) -> list[ApiVersion]:
        url = f"{self.base}/api/v1/versions/{quote(raw, safe='')}.json"
        try:
            data = await self.http.get_json(url)
        except HttpStatusError as exc:
            raise_not_found(exc, ECO, normalized)
            raise
        try:
            return API_VERSIONS.validate_python(data)
        except ValidationError as exc:
            raise MalformedPayload(
                f"rubygems {normalized}: {url} is not a list of versions ({exc.error_count()} errors)",
                url=url,
            ) from exc

    async def _development(self, raw: str, number: str, platform: str) -> list[Requirement]:
        """Development dependencies (opt-in via SSC_DEPENDENCY_KINDS=runtime,dev): API v2."""
        url = f"{self.base}/api/v2/rubygems/{quote(raw, safe='')}/versions/{quote(number, safe='')}.json"
        if platform != RUBY:
            url += f"?platform={quote(platform, safe='')}"
        data = await self.http.get_json(url)
        try:
            return development_requirements(ApiVersionDetail.model_validate(data))
        except ValidationError as exc:
            raise MalformedPayload(f"rubygems {raw} {number}: bad {url}", url=url) from exc

    async def _repository(self, raw: str, newest: ApiVersion | None) -> str:
        """The newest version's metadata URLs, else the gem page's (one more request)."""
        found = first_repository((newest.metadata or {}) if newest else {})
        if found is not None:
            return found
        url = f"{self.base}/api/v1/gems/{quote(raw, safe='')}.json"
        try:
            data = await self.http.get_json(url)
        except HttpStatusError as exc:
            raise_not_found(exc, ECO, ECO.normalize_name(raw))
            raise
        try:
            gem = ApiGem.model_validate(data)
        except ValidationError as exc:
            raise MalformedPayload(f"rubygems {raw}: bad gem document {url}", url=url) from exc
        return gem.repository() or "n/a"

    async def _import_names(self, raw: str, number: str, entry: InfoEntry) -> list[str]:
        """Require paths of one version's .gem (the newest release: fetch picks it).

        A missing, oversized or unreadable artefact leaves the list empty; a transient failure
        (429/5xx after retries, network, a body not matching its checksum) fails the gem so the next run retries it, instead of
        writing an empty list that no later update would correct.
        """
        cap = self.settings.sdist_max_bytes
        if cap <= 0:
            return []
        suffix = "" if entry.platform == RUBY else f"-{entry.platform}"
        url = f"{self.base}/gems/{quote(raw, safe='')}-{quote(number + suffix, safe='')}.gem"
        # /info's checksum is the .gem's SHA-256 (legacy lines carry a shorter, unusable one).
        checksum = entry.checksum if entry.checksum and len(entry.checksum) == 64 else None
        try:
            response = await self._get_verified(url, max_bytes=cap, sha256=checksum)
            # Off the event loop: gunzipping a big gem would stall every other request.
            members = await asyncio.to_thread(
                gem_data_members,
                response.content,
                max_entries=self.settings.archive_max_entries,
                max_unpacked=cap * 10,
            )
        except DigestMismatch:
            raise  # damaged in transfer (the registry's checksum says so): retry the gem later
        except (MalformedPayload, PayloadTooLarge) as exc:
            log.debug("rubygems %s: no import names from %s (%s)", raw, url, exc)
            return []
        except HttpStatusError as exc:
            if exc.status not in (403, 404, 410):
                raise
            log.debug("rubygems %s: %s unavailable (%s)", raw, url, exc)
            return []
        return require_paths(members)

    # -- spellings ------------------------------------------------------------------------

    def _remember(self, raw: str, *, published: bool = True) -> None:
        """Note a spelling: the registry's own lists win over names seen in dependency lists."""
        if published:
            self._spellings[ECO.normalize_name(raw)] = raw
        else:
            self._spellings.setdefault(ECO.normalize_name(raw), raw)

    async def _respell(self, normalized: str) -> str | None:
        """The published spelling of a gem, from `/names` (loaded once per run, on a 404)."""
        async with self._names_lock:
            if not self._names_loaded:
                self._names_loaded = True
                try:
                    response = await self.http.get(f"{self.base}/names")
                except RegistryError as exc:
                    log.debug("rubygems: cannot load /names to respell gems (%s)", exc)
                    return None
                for line in response.text().splitlines():
                    line = line.strip()
                    if line and line != "---":
                        self._spellings[ECO.normalize_name(line)] = line
        return self._spellings.get(normalized)

    # -- daily update ---------------------------------------------------------------------

    async def changes(self, view: StoreView) -> ChangeSet:
        """Stored gems on lines appended to `/versions` since the cursor; else a full reconcile."""
        stored = FeedCursor.from_dict(view.cursor("update"))
        reason = "no cursor yet"
        if stored is not None:
            result = await self.feed.since(stored)
            if isinstance(result, Appended):
                names = self._changed_from_lines(result.lines, view)
                appended = {**result.notes, "changed": len(names)}
                return ChangeSet(names, result.cursor.as_dict(), appended)
            reason = result
        full = await self.feed.full()
        names = self._changed_from_index(full.index, view)
        notes: dict[str, Any] = {"mode": "full", "reason": reason, "changed": len(names)}
        if stored is not None and stored.created_at != full.created_at:
            notes["rebuilt"] = {"from": stored.created_at, "to": full.created_at}
        return ChangeSet(names, full.cursor.as_dict(), notes)

    async def cursor_lag(self, cursor: Mapping[str, Any]) -> CursorLag:
        """Bytes appended to `/versions` past the cursor's offset: one HEAD, its Content-Length
        (identity encoding, so it is the file's size, not a gzip body's)."""
        source = "Content-Length of HEAD /versions"
        stored = FeedCursor.from_dict(dict(cursor))
        offset = stored.offset if stored is not None else None
        size, problem = await head_number(
            self.http,
            self.feed.url,
            "content-length",
            {"Accept-Encoding": "identity"},
            f"{self.feed.url} sends no Content-Length for HEAD",
        )
        if size is None:
            return CursorLag(None, "bytes", source, cursor=offset, reason=problem)
        if stored is None or stored.url != self.feed.url:
            reason = "no byte offset of this registry's /versions in the cursor"
            return CursorLag(None, "bytes", source, size, offset, reason)
        behind = "/versions is shorter than the cursor: rebuilt; the next update reconciles"
        return measured(size, stored.offset, "bytes", source, behind=behind)

    def _changed_from_lines(self, lines: Iterable[VersionsLine], view: StoreView) -> list[str]:
        """Stored gems on these lines whose stored /info MD5 differs from the newest line's."""
        latest: dict[str, str] = {}
        for line in lines:
            self._remember(line.name)
            latest[ECO.normalize_name(line.name)] = line.md5
        if not latest:
            return []
        known = view.known(latest)
        return sorted(
            name
            for name, package in known.items()
            if package.status in _REFRESHED_STATUSES and package.token != latest.get(name)
        )

    def _changed_from_index(self, index: VersionsIndex, view: StoreView) -> list[str]:
        """Every extracted gem whose token differs from the file's MD5, or that left the file."""
        current: dict[str, str] = {}
        for entry in index.gems.values():
            self._remember(entry.name)
            if entry.live:
                current[ECO.normalize_name(entry.name)] = entry.md5
        return sorted(
            name for name, token in view.tokens() if name not in current or current[name] != token
        )
