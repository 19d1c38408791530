"""Maven Central (or any Maven 2 repository with a Maven Indexer export): listing, POMs, updates.

reference/registries.md §3: names come from the Indexer's full chunk (collapsed to g:a on disk),
versions from `maven-metadata.xml`, dependencies/licences/scm from each new version's effective
POM (parents and BOMs cached forever: POMs are immutable), daily changes from the incremental
chunks listed in `.properties`. docs/ecosystems/maven.md explains the cursor and the choices.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, TypeVar

import diskcache

from ssc_cli.concurrency import all_or_first_error
from ssc_cli.errors import HttpStatusError, MalformedPayload, PayloadTooLarge
from ssc_cli.http import Http
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord, Requirement, VersionRecord
from ssc_cli.registries.archives import zip_member_names
from ssc_cli.registries.interface import (
    ChangeSet,
    CursorLag,
    StoreView,
    measured,
    raise_not_found,
)
from ssc_cli.registries.maven.indexer import (
    INDEX_PREFIX,
    IndexProperties,
    iso_from_ms,
    parse_index_properties,
)
from ssc_cli.registries.maven.local_index import LocalIndex, PomGaps
from ssc_cli.registries.maven.parse import (
    jar_import_names,
    parse_directory_listing,
    parse_metadata,
    split_name,
    usable_version,
)
from ssc_cli.registries.maven.pom import Coordinates, EffectivePom, Pom, Resolver, parse_pom
from ssc_cli.registries.maven.pom import repository_candidates as pom_repository_candidates
from ssc_cli.repository import normalize_repository_url, vendor_of
from ssc_cli.settings import Settings, cache_dir_error

log = logging.getLogger(__name__)
T = TypeVar("T")

# Scopes whose dependencies are needed to run the artefact become runtime edges (issue 4).
_SCOPE_KINDS = {
    "": "runtime",
    "compile": "runtime",
    "runtime": "runtime",
    "test": "test",
    "provided": "provided",
    "system": "system",
}
# Packagings whose main artefact is a jar of classes (others: pom, war, aar, …).
_JAR_PACKAGINGS = frozenset({"jar", "bundle", "maven-plugin", "ejb", "eclipse-plugin"})
_PARSED_POMS = 4096
# Updates refetch a package whose version has no POM this many times (a POM lagging behind its
# metadata shows up within a run or two); afterwards only a fetch for another reason retries it.
_GAP_RETRIES = 5


@dataclass(frozen=True, slots=True)
class PomEntry:
    """A POM as fetched once: its parsed model and the Last-Modified the repository gave it."""

    pom: Pom
    last_modified: str | None


class MavenRegistry:
    """Client of a Maven 2 repository root (SSC_MAVEN_URL) that also serves `/.index/`."""

    ecosystem = Ecosystem.MAVEN

    def __init__(self, settings: Settings, http: Http) -> None:
        self.base = settings.maven_url.rstrip("/")
        self.http = http
        self.kinds = settings.kinds
        self.import_names = settings.import_names
        self.max_entries = settings.archive_max_entries
        http.limit_host(self.base, rate=settings.maven_rate, concurrency=settings.maven_concurrency)
        self.index = LocalIndex(settings.data_dir / "maven" / "index.sqlite")
        self.gaps = PomGaps(settings.data_dir / "maven" / "pom-gaps.sqlite")
        self.chunk_dir = settings.cache_dir / "maven" / "index"
        # Immutable POMs are kept forever: no eviction, no revalidation.
        self._pom_dir = settings.cache_dir / "maven" / "poms"
        self._pom_cache: diskcache.Cache | None = None
        self._parsed: OrderedDict[str, PomEntry] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[PomEntry | None]] = {}
        self._listing_cursor: dict[str, Any] | None = None

    # -- listing and the index ------------------------------------------------------------

    @property
    def index_url(self) -> str:
        return f"{self.base}/.index"

    async def properties(self) -> IndexProperties:
        url = f"{self.index_url}/{INDEX_PREFIX}.properties"
        for attempt in (1, 2):  # a garbled body is retried once, like a 5xx
            response = await self.http.get(url)
            try:
                return parse_index_properties(response.text(), url)
            except MalformedPayload:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _chunk(self, name: str) -> tuple[Path, bool]:
        """Stream one chunk to the cache directory; (path, unchanged since the last download)."""
        download = await self.http.download(f"{self.index_url}/{name}", self.chunk_dir / name)
        return download.path, download.not_modified

    async def _read_chunk(
        self, name: str, read: Callable[[Path], T], *, skip_unchanged: bool = False
    ) -> tuple[T | None, bool]:
        """Download a chunk and read it; a corrupt download is deleted and fetched once more.

        Returns (result, unchanged); result is None when unchanged and `read` was skipped.
        """
        for attempt in (1, 2):
            path, unchanged = await self._chunk(name)
            if unchanged and attempt == 1 and skip_unchanged:
                return None, True
            try:
                return await asyncio.to_thread(read, path), unchanged
            except MalformedPayload:
                path.unlink(missing_ok=True)  # never revalidate a corrupt copy with a 304
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _reload_index(self, props: IndexProperties, *, force: bool = False) -> None:
        """The full chunk into the local table (skipped when nothing changed since last time).

        force: rebuild even when the table claims to match props (after a failed plan).
        """
        stats, _ = await self._read_chunk(
            f"{INDEX_PREFIX}.gz",
            lambda path: self.index.build(path, props),
            skip_unchanged=not force and self.index.meta() == props.cursor(),
        )
        if stats is None:
            return
        log.info(
            "maven index: %d records, %d versions, %d artifacts",
            stats.records,
            stats.versions,
            stats.names,
        )

    async def list_names(self) -> AsyncIterator[str]:
        # Properties first: if the index is republished meanwhile, the cursor is older than
        # the chunk and the next update repeats a little work instead of skipping some.
        props = await self.properties()
        await self._reload_index(props)
        self._listing_cursor = props.cursor()
        for name in self.index.names():
            yield name

    def listing_cursor(self) -> dict[str, Any] | None:
        return self._listing_cursor

    async def cursor_lag(self, cursor: Mapping[str, Any]) -> CursorLag:
        """Incremental chunks published past the cursor (Central: about one a week), from the
        index's properties file: one small GET, no chunk downloaded."""
        source = "nexus.index.last-incremental of the index properties"
        props = await self.properties()
        head, stored = props.last_incremental, cursor.get("last_incremental")
        if head is None or not isinstance(stored, int):
            reason = "no incremental number in the " + ("index" if head is None else "cursor")
            return CursorLag(None, "chunks", source, head, stored, reason)
        if cursor.get("chain_id") != props.chain_id:
            reason = "the index chain changed (rebuilt): the next update reloads the full index"
            return CursorLag(None, "chunks", source, head, stored, reason)
        behind = "the last incremental is below the cursor's (a different index?)"
        return measured(head, stored, "chunks", source, behind=behind)

    async def changes(self, view: StoreView) -> ChangeSet:
        """Incremental chunks after the cursor, or a full reload diffed against the graph."""
        props = await self.properties()
        cursor = view.cursor("update") or {}
        plan: list[int] | None = None
        last = cursor.get("last_incremental")
        if (
            cursor.get("chain_id") is not None
            and cursor.get("chain_id") == props.chain_id
            and isinstance(last, int)
            and self.index.exists()
        ):
            plan = props.chunks_after(last)
        touched: set[str] | None = None
        if plan is not None:
            touched = await self._apply_incrementals(plan, props)
        if touched is not None:
            names = self._stored(view, sorted(touched))
            notes: dict[str, Any] = {"mode": "incremental", "chunks": len(plan or [])}
            notes["touched"] = len(touched)
        else:
            # A failed plan left part of it in the table: rebuild, whatever the table records.
            await self._reload_index(props, force=plan is not None)
            names = self._differing(view)
            notes = {"mode": "full"}
        # Versions whose POM was missing are retried even though the index moved past them.
        gaps = self._stored(view, self.gaps.open_names(_GAP_RETRIES))
        if gaps:
            names = list(dict.fromkeys([*names, *gaps]))
            notes["pom_gaps"] = len(gaps)
        return ChangeSet(names=names, cursor=props.cursor(), notes=notes)

    async def _apply_incrementals(self, plan: list[int], props: IndexProperties) -> set[str] | None:
        """Apply the plan's chunks in order; None when one is gone (the caller reloads fully)."""
        touched: set[str] = set()
        if not plan:
            return touched
        # Until the last chunk is in, the table matches no published state.
        self.index.record(None)
        for number in plan:
            try:
                found, _ = await self._read_chunk(f"{INDEX_PREFIX}.{number}.gz", self.index.apply)
            except HttpStatusError as exc:
                if exc.status in (404, 410):  # listed but gone: a gap, reload fully
                    log.info("maven index chunk %d missing; reloading the full index", number)
                    return None
                raise
            touched |= found or set()
        self.index.record(props)
        return touched

    @staticmethod
    def _stored(view: StoreView, names: list[str]) -> list[str]:
        """The extracted packages among names (pending targets are ingest's to extract)."""
        stored: list[str] = []
        for start in range(0, len(names), 500):
            batch = names[start : start + 500]
            known = view.known(batch)
            stored.extend(n for n in batch if n in known and known[n].status == "extracted")
        return stored

    def _differing(self, view: StoreView) -> list[str]:
        """Stored packages for which the index lists a version the graph does not have."""
        changed: list[str] = []
        names = [name for name, _ in view.tokens()]
        for start in range(0, len(names), 500):
            batch = names[start : start + 500]
            known = view.known(batch)
            for name in batch:
                listed = {v for v in self.index.versions(name) if usable_version(v)}
                have = known[name].versions if name in known else frozenset()
                if listed - have:
                    changed.append(name)
        return changed

    # -- one package ----------------------------------------------------------------------

    def _artifact_url(self, group_id: str, artifact_id: str) -> str:
        return f"{self.base}/{group_id.replace('.', '/')}/{artifact_id}"

    async def versions(self, group_id: str, artifact_id: str) -> list[str]:
        """Released versions from maven-metadata.xml; the directory listing when it is missing."""
        name = f"{group_id}:{artifact_id}"
        url = f"{self._artifact_url(group_id, artifact_id)}/maven-metadata.xml"
        try:
            listed = await self.http.get_parsed(url, lambda r: parse_metadata(r.content, url))
        except HttpStatusError as exc:
            if exc.status not in (404, 410):
                raise
            listing_url = f"{self._artifact_url(group_id, artifact_id)}/"
            try:
                listing = await self.http.get(listing_url)
            except HttpStatusError as inner:
                raise_not_found(inner, self.ecosystem, name)
            listed = parse_directory_listing(listing.text())
        return [v for v in listed if usable_version(v)]

    async def fetch(self, name: str, known: KnownPackage | None = None) -> PackageRecord:
        group_id, artifact_id = split_name(name)
        name = self.ecosystem.normalize_name(f"{group_id}:{artifact_id}")
        versions = await self.versions(group_id, artifact_id)
        dates = self.index.versions(name)
        have = known.versions if known else frozenset()
        gaps = self.gaps.versions(name)
        newest = _newest(versions)
        # Every version's POM, known ones included: licences and dates are rewritten from it, and
        # the forever cache makes that free except once after the cache directory was lost.
        models = await all_or_first_error(
            self._effective(Coordinates(group_id, artifact_id, v)) for v in versions
        )
        records = []
        newest_model: EffectivePom | None = None
        for version, found in zip(versions, models, strict=True):
            model, last_modified = found if found is not None else (None, None)
            if version == newest:
                newest_model = model
            records.append(
                VersionRecord(
                    name=version,
                    release_date=iso_from_ms(dates.get(version)) or _http_date(last_modified),
                    requirements=self._version_requirements(
                        model, version in have, version in gaps
                    ),
                    licenses={"licenses": model.licenses} if model and model.licenses else {},
                    extra={"pom_problems": model.problems} if model and model.problems else {},
                )
            )
        self.gaps.missing(name, [v for v, m in zip(versions, models, strict=True) if m is None])
        self.gaps.filled(
            name, [v for v, m in zip(versions, models, strict=True) if m is not None and v in gaps]
        )
        repository = _repository(newest_model)
        imports: list[str] | None = None  # not read: the stored names stay
        if self.import_names:
            imports = []
            if newest is not None and newest_model is not None:
                imports = await self._import_names(group_id, artifact_id, newest, newest_model)
        return PackageRecord(
            ecosystem=self.ecosystem,
            name=name,
            versions=records,
            repository_url=repository,
            vendor=vendor_of(repository),
            import_names=imports,
            licenses=(
                {"licenses": newest_model.licenses}
                if newest_model is not None and newest_model.licenses
                else {}
            ),
            extra=_package_extra(group_id, artifact_id, newest_model),
        )

    def _version_requirements(
        self, model: EffectivePom | None, stored: bool, gap: bool
    ) -> list[Requirement] | None:
        """Edges to write for one version; None leaves the stored ones (or their absence) alone.

        A version without a POM gets None, not [], so it is never stored as if it had no
        dependencies; a stored version gets edges only when its POM was missing before (gap).
        """
        if model is None or (stored and not gap):
            return None
        return self.requirements(model)

    def requirements(self, model: EffectivePom) -> list[Requirement]:
        """REQUIRE edges of one effective POM, filtered by the dependency kinds in force."""
        result: list[Requirement] = []
        seen: set[tuple[str, str, str | None]] = set()
        for dep in model.dependencies:
            kind = _SCOPE_KINDS.get(dep.scope)
            if kind is None or not dep.group_id or "${" in dep.name:
                continue  # `import` or an unknown scope; unresolvable coordinates
            if dep.optional and kind == "runtime":
                kind = "optional"
            if kind not in self.kinds:
                continue
            target = dep.classifier or None
            name = self.ecosystem.normalize_name(dep.name)
            if (name, kind, target) in seen:
                continue
            seen.add((name, kind, target))
            extra: dict[str, Any] = {"scope": dep.scope}
            if dep.type != "jar":
                extra["type"] = dep.type
            if dep.managed:
                extra["managed"] = True
            result.append(
                Requirement(
                    name=name,
                    constraints=dep.version if dep.version and "${" not in dep.version else "any",
                    raw_constraints=dep.raw_version,
                    kind=kind,
                    optional=dep.optional,
                    target=target,
                    extra=extra,
                )
            )
        return result

    async def _import_names(
        self, group_id: str, artifact_id: str, version: str, model: EffectivePom
    ) -> list[str]:
        """Class packages of the newest version's jar, read from its central directory only."""
        if model.packaging not in _JAR_PACKAGINGS:
            return []
        url = f"{self._artifact_url(group_id, artifact_id)}/{version}/{artifact_id}-{version}.jar"
        try:
            # zip_member_names already reads a garbled directory again (with backoff).
            members = await zip_member_names(self.http, url, max_entries=self.max_entries)
        except (MalformedPayload, PayloadTooLarge) as exc:
            log.debug("no import names for %s:%s: %s", group_id, artifact_id, exc)
            return []
        except HttpStatusError as exc:
            if exc.status not in (403, 404, 410, 416):
                raise  # transient (429/5xx after retries): fail the package so it is retried
            log.debug("no jar for %s:%s: %s", group_id, artifact_id, exc)
            return []
        return jar_import_names(members)

    # -- POMs -----------------------------------------------------------------------------

    async def _effective(self, coords: Coordinates) -> tuple[EffectivePom, str | None] | None:
        """The effective model of one version and its POM's Last-Modified; None without a POM.

        POMs come from the forever cache when they are in it, so an update costs no request per
        old version once each POM was read.
        """
        entry = await self._pom_entry(coords)
        if entry is None:
            log.info("maven: %s has no POM in the repository", coords)
            return None

        async def loader(ref: Coordinates) -> Pom | None:
            found = await self._pom_entry(ref)
            return found.pom if found is not None else None

        model = await Resolver(loader).effective(entry.pom)
        return model, entry.last_modified

    def _cache(self) -> diskcache.Cache:
        if self._pom_cache is None:
            try:
                self._pom_cache = diskcache.Cache(
                    str(self._pom_dir), eviction_policy="none", size_limit=2**62
                )
            except OSError as exc:
                raise cache_dir_error(self._pom_dir, exc) from None
        return self._pom_cache

    async def _pom_entry(self, coords: Coordinates) -> PomEntry | None:
        key = coords.pom_path()
        entry = self._parsed.get(key)
        if entry is not None:
            self._parsed.move_to_end(key)
            return entry
        stored = self._cache().get(key)
        if isinstance(stored, dict):
            entry = PomEntry(
                parse_pom(stored["content"], f"{self.base}/{key}"), stored.get("last_modified")
            )
            self._remember(key, entry)
            return entry
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._download_pom(key))
            self._inflight[key] = task
            task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _download_pom(self, key: str) -> PomEntry | None:
        url = f"{self.base}/{key}"
        for attempt in (1, 2):  # a garbled body is retried once before the package fails
            try:
                response = await self.http.get(url)
            except HttpStatusError as exc:
                if exc.status in (404, 410):
                    return None  # never cached: a missing POM may still be uploaded
                raise
            try:
                pom = parse_pom(response.content, url)
                break
            except MalformedPayload:
                if attempt == 2:
                    raise
        entry = PomEntry(pom, response.headers.get("last-modified"))
        self._cache().set(key, {"content": response.content, "last_modified": entry.last_modified})
        self._remember(key, entry)
        return entry

    def _remember(self, key: str, entry: PomEntry) -> None:
        self._parsed[key] = entry
        if len(self._parsed) > _PARSED_POMS:
            self._parsed.popitem(last=False)


def _newest(versions: list[str]) -> str | None:
    """The highest version under Maven ordering (the last listed when none parses)."""
    best: tuple[Any, str] | None = None
    for version in versions:
        try:
            key = Ecosystem.MAVEN.version_key(version)
        except ValueError:
            continue
        if best is None or key > best[0]:
            best = (key, version)
    if best is not None:
        return best[1]
    return versions[-1] if versions else None


def _package_extra(group_id: str, artifact_id: str, model: EffectivePom | None) -> dict[str, Any]:
    """group_id/artifact_id (graph contract), and where a relocated artifact moved to."""
    extra: dict[str, Any] = {"group_id": group_id, "artifact_id": artifact_id}
    if model is not None and model.relocation:
        moved = model.relocation
        extra["relocation"] = ":".join(
            part
            for part in (
                moved.get("groupId", group_id),
                moved.get("artifactId", artifact_id),
                moved.get("version", ""),
            )
            if part
        )
    return extra


def _repository(model: EffectivePom | None) -> str:
    if model is None:
        return "n/a"
    for candidate in pom_repository_candidates(model):
        normalized = normalize_repository_url(candidate)
        if normalized:
            return normalized
    return "n/a"


def _http_date(value: str | None) -> str | None:
    """An HTTP Last-Modified header as ISO-8601 UTC."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.isoformat(timespec="seconds")
