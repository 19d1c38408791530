"""crates.io client: the daily database dump for listing and updates, the sparse index for single crates.

Politeness follows crates.io's data-access policy (registries.md §5): the dump and .crate files
come from the static host and the sparse index has no rate limit; the web API is asked only to
add repository and licence to a crate read from the sparse index, strictly serially at
`crates_api_rate` (≤ 1 request/s) with ssc's identifying User-Agent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ssc_cli.errors import HttpStatusError, MalformedPayload, PackageNotFound, PayloadTooLarge
from ssc_cli.http import Http
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord, VersionRecord
from ssc_cli.registries.cargo.dump import (
    DumpCrate,
    DumpIndex,
    canonical,
    crate_token,
    ensure_index,
    kind_name,
    moment_key,
    repository_of,
)
from ssc_cli.registries.cargo.parse import (
    ApiCrate,
    CargoDependency,
    crate_import_names,
    index_path,
    parse_api_crate,
    parse_index_file,
    requirements,
)
from ssc_cli.registries.interface import ChangeSet, CursorLag, StoreView, raise_not_found
from ssc_cli.repository import normalize_repository_url, vendor_of
from ssc_cli.settings import Settings

log = logging.getLogger(__name__)


class CargoRegistry:
    """crates.io: list and diff from db-dump.tar.gz, single crates from index.crates.io."""

    ecosystem = Ecosystem.CARGO

    def __init__(self, settings: Settings, http: Http) -> None:
        self.settings = settings
        self.http = http
        self.index_url = settings.crates_index_url.rstrip("/")
        self.static_url = settings.crates_static_url.rstrip("/")
        self.api_url = settings.crates_api_url.rstrip("/")
        # Declared API first: behind one mirror host the later, roomier limits win.
        http.limit_host(self.api_url, rate=settings.crates_api_rate, concurrency=1)
        for url in (self.static_url, self.index_url):
            http.limit_host(url, rate=settings.crates_rate, concurrency=settings.crates_concurrency)
        self.dump_path = settings.data_dir / "cargo" / "db-dump.tar.gz"
        self.index_path = settings.data_dir / "cargo" / "db-dump.index.sqlite"
        self._dump: DumpIndex | None = None
        self._dump_lock = asyncio.Lock()
        self.dump_not_modified: bool | None = None

    @property
    def dump_url(self) -> str:
        return f"{self.static_url}/db-dump.tar.gz"

    # -- the dump ---------------------------------------------------------------------------

    async def load_dump(self) -> DumpIndex:
        """Download the dump (a 304 when unchanged) and index it once per dump file."""
        async with self._dump_lock:
            if self._dump is not None:
                return self._dump
            attempts = self.settings.http_retries + 1
            problem: MalformedPayload | None = None
            for _ in range(attempts):
                download = await self.http.download(self.dump_url, self.dump_path)
                try:
                    await asyncio.to_thread(
                        ensure_index,
                        self.dump_path,
                        self.index_path,
                        kinds=self.settings.kinds,
                        normalize_repository=normalize_repository_url,
                    )
                except MalformedPayload as exc:
                    # A corrupt download: forget it so the next attempt is a full GET.
                    problem = exc
                    self.http.forget(self.dump_url, {"x-download": str(self.dump_path)})
                    self.dump_path.unlink(missing_ok=True)
                    log.debug("crates.io dump unusable (%s); downloading again", exc)
                    continue
                self.dump_not_modified = download.not_modified
                self._dump = DumpIndex(self.index_path)
                return self._dump
            raise MalformedPayload(
                f"{self.dump_url}: {problem} after {attempts} downloads", url=self.dump_url
            )

    def close(self) -> None:
        """Release the dump index (the run is over)."""
        if self._dump is not None:
            self._dump.close()
            self._dump = None

    async def list_names(self) -> AsyncIterator[str]:
        dump = await self.load_dump()
        for name in dump.names():
            yield name

    def listing_cursor(self) -> dict[str, Any] | None:
        if self._dump is None:
            return None
        return {"timestamp": self._dump.timestamp}

    async def cursor_lag(self, cursor: Mapping[str, Any]) -> CursorLag:
        """Not measured: the head is the timestamp inside db-dump.tar.gz (hundreds of MB), and the
        sparse index has no global sequence; the update's age tells a stalled update."""
        return CursorLag(
            None,
            None,
            "none",
            cursor=cursor.get("timestamp"),
            reason="crates.io's head is inside the database dump (a large download); not measured",
        )

    async def changes(self, view: StoreView) -> ChangeSet:
        """Stored crates whose dump token differs or that the dump lacks, plus crates created
        since the last dump seen."""
        cursor = view.cursor("update")
        dump = await self.load_dump()
        stamp = dump.timestamp
        notes: dict[str, Any] = {
            "dump_timestamp": stamp,
            "dump_not_modified": self.dump_not_modified,
        }
        seen = str(cursor.get("timestamp") or "") if cursor else ""
        if seen and moment_key(stamp) <= moment_key(seen):
            # An older or the same dump: nothing it says is newer than what was written.
            return ChangeSet([], dict(cursor or {}), notes)
        stored: dict[str, tuple[str, str | None]] = {}
        for name, token in view.tokens():
            stored[canonical(name)] = (name, token)
        current = dump.tokens(stored)
        names = [
            name
            for canon, (name, token) in stored.items()
            if canon in current and current[canon][1] != token
        ]
        notes["changed"] = len(names)
        # Not in the dump: deleted since, or published after it (read from the sparse index).
        # Either way the index answers: a fresh record, or a 404 that marks it missing.
        absent = [name for canon, (name, _) in stored.items() if canon not in current]
        notes["absent"] = len(absent)
        names.extend(absent)
        if seen:
            fresh = [
                Ecosystem.CARGO.normalize_name(name)
                for name in dump.created_after(seen)
                if canonical(name) not in stored
            ]
            notes["new"] = len(fresh)
            names.extend(fresh)
        return ChangeSet(sorted(set(names)), {"timestamp": stamp}, notes)

    # -- one crate --------------------------------------------------------------------------

    async def fetch(self, name: str, known: KnownPackage | None = None) -> PackageRecord:
        """The crate from the run's dump when it has it, else from the sparse index (+ API)."""
        crate = self._dump.crate(name) if self._dump is not None else None
        if crate is not None and self._dump is not None:
            record, spelled = self._from_dump(self._dump, crate), crate.name
        else:
            record, spelled = await self._from_index(name)
        if self.settings.import_names:
            record.import_names = await self._import_names(record, spelled)
        return record

    def _from_dump(self, dump: DumpIndex, crate: DumpCrate) -> PackageRecord:
        by_version: dict[int, list[CargoDependency]] = {}
        for row in dump.dependencies(crate.id):
            by_version.setdefault(row.version_id, []).append(
                CargoDependency(
                    crate=row.crate_name,
                    req=row.req,
                    kind=kind_name(row.kind, row.optional),
                    optional=row.optional,
                    target=row.target,
                    alias=row.explicit_name,
                )
            )
        kinds = self.settings.kinds
        versions = [
            VersionRecord(
                name=v.num,
                release_date=v.created_at,
                yanked=v.yanked,
                requirements=requirements(by_version.get(v.id, []), kinds),
                licenses={"license": v.license} if v.license else {},
            )
            for v in dump.versions(crate.id)
        ]
        repository = repository_of(normalize_repository_url, crate.repository, crate.homepage)
        return self._record(crate.name, versions, repository, crate.token)

    async def _from_index(self, name: str) -> tuple[PackageRecord, str]:
        text, url = await self._index_file(name)
        parsed = parse_index_file(text, name, url)
        api = await self._api_crate(parsed.name)
        extra = {v.num: v for v in api.versions} if api else {}
        kinds = self.settings.kinds
        versions = []
        for line in parsed.versions:
            meta = extra.get(line.num)
            license_ = meta.license if meta else None
            versions.append(
                VersionRecord(
                    name=line.num,
                    release_date=line.pubtime or (meta.created_at if meta else None),
                    yanked=line.yanked,
                    requirements=requirements(line.dependencies, kinds),
                    licenses={"license": license_} if license_ else {},
                )
            )
        repository = (
            repository_of(normalize_repository_url, api.repository, api.homepage) if api else "n/a"
        )
        record = self._record(parsed.name, versions, repository, None)
        return record, parsed.name

    def _record(
        self, spelled: str, versions: list[VersionRecord], repository: str, token: str | None
    ) -> PackageRecord:
        newest = _newest(versions)
        licence = newest.licenses.get("license") if newest else None
        return PackageRecord(
            ecosystem=self.ecosystem,
            name=self.ecosystem.normalize_name(spelled),
            versions=versions,
            repository_url=repository,
            vendor=vendor_of(repository),
            # The same digest the dump index computes: a crate read from the index with the
            # API's data compares equal to its dump row, so the next diff leaves it alone.
            token=token
            or crate_token(
                repository,
                [(v.name, v.yanked, v.release_date, v.licenses.get("license")) for v in versions],
            ),
            licenses={"license": licence} if licence else {},
        )

    async def _index_file(self, name: str) -> tuple[str, str]:
        """The sparse index file; a `-`/`_` spelling that 404s is retried with the other one."""
        spellings = [name]
        for swapped in (name.replace("_", "-"), name.replace("-", "_")):
            if swapped not in spellings:
                spellings.append(swapped)
        for position, spelling in enumerate(spellings):
            url = f"{self.index_url}/{index_path(spelling)}"
            try:
                response = await self.http.get(url, conditional=True)
            except HttpStatusError as exc:
                if exc.status in (404, 410) and position + 1 < len(spellings):
                    continue
                raise_not_found(exc, self.ecosystem, name)
                raise
            return response.text(), url
        raise PackageNotFound(f"cargo package {name!r} does not exist")

    async def _api_crate(self, name: str) -> ApiCrate | None:
        """Repository and licences from the web API (≤ 1 request/s); None when it lacks the crate."""
        url = f"{self.api_url}/crates/{name}"
        try:
            payload = await self.http.get_json(url)
            return parse_api_crate(payload, name, url)
        except HttpStatusError as exc:
            if exc.status in (404, 410):  # published after the API's replica caught up
                return None
            raise
        except PackageNotFound:
            return None

    async def _import_names(self, record: PackageRecord, spelled: str) -> list[str]:
        """Import names of the newest version's .crate; a missing or unreadable one gives none."""
        newest = _newest(record.versions)
        if newest is None:
            return []
        url = f"{self.static_url}/crates/{spelled}/{spelled}-{newest.name}.crate"
        attempts = self.settings.http_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = await self.http.get(url, max_bytes=self.settings.sdist_max_bytes)
                return await asyncio.to_thread(
                    crate_import_names,
                    response.content,
                    spelled,
                    max_entries=self.settings.archive_max_entries,
                )
            except MalformedPayload as exc:
                # A body mangled in transit is fetched again, like a JSON document would be.
                if attempt == attempts:
                    log.debug("crate %s: no import names from %s (%s)", record.name, url, exc)
            except PayloadTooLarge as exc:
                log.debug("crate %s: no import names from %s (%s)", record.name, url, exc)
                return []
            except HttpStatusError as exc:
                # static.crates.io (S3) answers 403 for a missing file. Anything else after the
                # HTTP layer's retries is transient: fail the crate so the next run retries it
                # rather than store it without import names.
                if exc.status not in (403, 404, 410):
                    raise
                log.debug("crate %s: no .crate at %s (%s)", record.name, url, exc)
                return []
        return []


def _newest(versions: list[VersionRecord]) -> VersionRecord | None:
    """The highest version, preferring those not yanked; unparseable versions rank lowest."""
    best: tuple[bool, int, Any, str] | None = None
    chosen: VersionRecord | None = None
    for version in versions:
        try:
            key: tuple[bool, int, Any, str] = (
                not version.yanked,
                1,
                Ecosystem.CARGO.version_key(version.name),
                version.name,
            )
        except ValueError:
            key = (not version.yanked, 0, None, version.name)
        if best is None or _greater(key, best):
            best, chosen = key, version
    return chosen


def _greater(a: tuple[bool, int, Any, str], b: tuple[bool, int, Any, str]) -> bool:
    if a[:2] != b[:2]:
        return a[:2] > b[:2]
    if a[1] == 1 and a[2] != b[2]:
        return bool(a[2] > b[2])
    return a[3] > b[3]
