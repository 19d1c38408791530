"""npm: names and changes from the replication `_changes` feed, packages from full packuments.

reference/registries.md §2: the feed is `GET {replicate}/_changes?since=SEQ&limit<=10000` with
the `npm-replication-opt-in: true` header and integer sequences, where {replicate} is the
database URL (`https://replicate.npmjs.com/registry`); the replica's root
(`GET https://replicate.npmjs.com/`, the database URL without its last segment) gives
`update_seq`, which drops below a stored cursor when the replica is rebuilt (2021, 2025).
Packuments come from `GET {registry}/{name}` with scoped names as `@scope%2Fname`.
How enumeration, the cursor and reconciliation work is written up in docs/ecosystems/npm.md.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from ssc_cli.errors import (
    HttpStatusError,
    MalformedPayload,
    PackageNotFound,
    PayloadTooLarge,
    RegistryError,
)
from ssc_cli.http import Http
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord
from ssc_cli.registries.archives import tar_member_names
from ssc_cli.registries.interface import (
    ChangeSet,
    CursorLag,
    StoreView,
    measured,
    raise_not_found,
)
from ssc_cli.registries.npm.packument import (
    import_names_from_members,
    import_version,
    is_unpublished,
    parse_packument,
    rev_generation,
)
from ssc_cli.settings import Settings

log = logging.getLogger(__name__)

# KnownPackage.status values (graph/interface.py; registries do not import the graph layer).
PENDING, MISSING = "pending", "missing"

REPLICATION_HEADERS = {"npm-replication-opt-in": "true"}
# The public registry's own tarball host: rewritten to the configured registry (mirrors).
# Tarball answers that mean "there is no artefact": no import names, the package still counts.
# Anything else (429/5xx after retries, unreachable) fails the package so the next run retries it
# instead of overwriting stored import names with an empty list.
_GONE_STATUSES = frozenset({401, 403, 404, 410, 416})
_PUBLIC_REGISTRY = ("https://registry.npmjs.org", "http://registry.npmjs.org")


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One row of the `_changes` feed."""

    seq: int
    id: str
    rev: str | None
    deleted: bool

    @property
    def is_package(self) -> bool:
        """Design documents are CouchDB internals, not packages."""
        return bool(self.id) and not self.id.startswith("_design/")


@dataclass(frozen=True, slots=True)
class FeedPage:
    rows: list[FeedRow]
    last_seq: int


class NPMRegistry:
    """The npm registry client (NPMPackage)."""

    ecosystem = Ecosystem.NPM
    # The replication API's largest page (registries.md §2.2); tests lower it to page.
    changes_limit = 10_000
    # Replica lag (registries.md §2.1, construct-hub): the packument may trail the feed.
    lag_retries = 3
    lag_delay = 1.0

    def __init__(self, settings: Settings, http: Http) -> None:
        self.settings = settings
        self.http = http
        self.registry_url = settings.npm_url.rstrip("/")
        self.replicate_url = settings.npm_replicate_url.rstrip("/")
        self.replicate_root = replicate_root_url(self.replicate_url)
        # The feed is read serially; declared first so that, when both share a host (a
        # mirror, the tests), the packument limits are the ones in force.
        http.limit_host(self.replicate_url, rate=settings.npm_rate, concurrency=1)
        http.limit_host(
            self.registry_url, rate=settings.npm_rate, concurrency=settings.npm_concurrency
        )
        self._listing_seq: int | None = None
        # Revision each changed package had in the feed: fetch checks the packument caught up.
        self._expected_revs: dict[str, str] = {}

    # -- enumeration ----------------------------------------------------------------------

    async def list_names(self) -> AsyncIterator[str]:
        """Every live package id in the feed, replayed from 0: each once, but for one that changed
        while the listing ran, which may come again from its new row (the ingest dedupes it)."""
        # The cursor a first update starts from is the head *before* the listing: a package
        # fetched while later pages are still read can change again, and its row then moves
        # past ids already yielded. Replaying from here catches it; the rev check keeps the
        # replay of rows the ingest already saw cheap.
        head = await self.update_seq()
        self._listing_seq = None
        # CouchDB keeps one row per document, at its latest change: rows up to head name each
        # package once, so only the rows that moved past head while the listing ran (few) need
        # remembering. No set of every name: npm lists millions (issue 16).
        moved: set[str] = set()
        async for page in self._feed(0, head, to_tail=True):
            for row in page.rows:
                if not row.is_package or row.deleted:
                    continue
                if row.seq > head:
                    if row.id in moved:
                        continue
                    moved.add(row.id)
                yield row.id
        self._listing_seq = head

    def listing_cursor(self) -> dict[str, Any] | None:
        return {"seq": self._listing_seq} if self._listing_seq is not None else None

    # -- daily update ---------------------------------------------------------------------

    async def changes(self, view: StoreView) -> ChangeSet:
        """Stored packages whose feed revision differs from the stored one since the cursor."""
        head = await self.update_seq()
        stored = _cursor_seq(view.cursor("update"))
        if stored is None:
            mode, since = "initial", 0  # no cursor: reconcile by replaying the whole feed
        elif head < stored:
            mode, since = "reset", 0  # the replica was rebuilt: its numbering restarted
            log.warning(
                "npm feed reset: update_seq %d is below the stored cursor %d; replaying from 0",
                head,
                stored,
            )
        else:
            mode, since = "incremental", stored
        if mode == "incremental" and head == since:
            return ChangeSet([], {"seq": since}, {"mode": mode, "requests": 1, "rows": 0})
        latest: dict[str, FeedRow] = {}
        tokens: dict[str, str | None] = {}
        last_seq, requests, rows = since, 1, 0
        async for page in self._feed(since, head):
            requests += 1
            rows += len(page.rows)
            ids = {row.id for row in page.rows if row.is_package}
            known = view.known(ids) if ids else {}
            for row in page.rows:
                entry = known.get(row.id)
                if entry is not None and _worth_refetching(entry, row):
                    latest[row.id] = row  # the feed is in seq order: the last row wins
                    tokens[row.id] = entry.token
            last_seq = page.last_seq
        names = []
        for name, row in latest.items():
            if not row.deleted and row.rev is not None and tokens.get(name) == row.rev:
                continue  # the graph already holds exactly this revision
            names.append(name)
            if not row.deleted and row.rev is not None:
                self._expected_revs[name] = row.rev
        names.sort()
        notes = {"mode": mode, "requests": requests, "rows": rows, "update_seq": head}
        return ChangeSet(names, {"seq": last_seq}, notes)

    async def cursor_lag(self, cursor: Mapping[str, Any]) -> CursorLag:
        """Feed sequences between the cursor and the replica's `update_seq` (one GET of its root)."""
        source = "update_seq of the replica root"
        stored = _cursor_seq(cursor)
        head = await self.update_seq()
        if stored is None:
            return CursorLag(None, "sequence", source, head, None, "no seq in the cursor")
        behind = "update_seq is below the cursor: the replica was rebuilt; the next update replays"
        return measured(head, stored, "sequence", source, behind=behind)

    async def update_seq(self) -> int:
        """The replica's current sequence, from its root (`GET https://replicate.npmjs.com/`)."""
        url = self.replicate_root
        doc = await self.http.get_json(url, headers=REPLICATION_HEADERS, conditional=False)
        value = doc.get("update_seq") if isinstance(doc, Mapping) else None
        seq = _as_seq(value)
        if seq is None:
            raise MalformedPayload(
                f"{url}: no integer update_seq in {str(doc)[:200]}; SSC_NPM_REPLICATE_URL must "
                "name the database (…/registry), whose parent is the replica's root",
                url=url,
            )
        return seq

    async def _feed(
        self, since: int, head: int, *, to_tail: bool = False
    ) -> AsyncIterator[FeedPage]:
        """Pages of `_changes` from since until an empty page or one ending at or past head.

        A short page is no end: the replica may answer fewer rows than asked. Past head,
        to_tail reads on until a short page (rows that moved during a long listing).
        """
        limit = self.changes_limit
        while True:
            url = f"{self.replicate_url}/_changes?since={since}&limit={limit}"
            doc = await self.http.get_json(url, headers=REPLICATION_HEADERS, conditional=False)
            page = _parse_page(doc, url)
            yield page
            if not page.rows:
                return
            if page.last_seq >= head and (not to_tail or len(page.rows) < limit):
                return
            if page.last_seq <= since:
                raise MalformedPayload(
                    f"{url}: a page of rows that does not advance last_seq ({page.last_seq})",
                    url=url,
                )
            since = page.last_seq

    # -- packages -------------------------------------------------------------------------

    def packument_url(self, name: str) -> str:
        """`{registry}/{name}`, scoped names as `@scope%2Fname`, case kept."""
        return f"{self.registry_url}/{quote(name, safe='@')}"

    async def fetch(self, name: str, known: KnownPackage | None = None) -> PackageRecord:
        """The package with every version and its dependencies, from one packument."""
        url = self.packument_url(name)
        doc = await self._packument(name, url, conditional=True)
        expected = self._expected_revs.get(name)
        attempt = 0
        # A document without _rev (some mirrors) cannot be compared: taken as it is.
        while expected and _rev_of(doc) and rev_generation(_rev_of(doc)) < rev_generation(expected):
            if attempt >= self.lag_retries:
                raise RegistryError(
                    f"npm package {name!r}: {url} still serves revision {_rev_of(doc)} while the "
                    f"replication feed announced {expected}; the registry lags, retry later",
                    url=url,
                )
            attempt += 1
            await asyncio.sleep(self.lag_delay * attempt)
            doc = await self._packument(name, url, conditional=False)
        if isinstance(doc, Mapping) and is_unpublished(doc):
            raise PackageNotFound(f"npm package {name!r} was unpublished", url=url)
        record = parse_packument(doc, name, self.settings.kinds, url=url)
        if self.settings.import_names and isinstance(doc, Mapping):
            record.import_names = await self._import_names(record.name, doc)
        self._expected_revs.pop(name, None)
        return record

    async def _packument(self, name: str, url: str, *, conditional: bool) -> Any:
        # Full documents only: the abbreviated one has no time, licence or repository.
        headers = {"Accept": "application/json"}
        try:
            return await self.http.get_json(
                url,
                headers=headers,
                conditional=conditional,
                max_bytes=self.settings.http_max_bytes,
            )
        except HttpStatusError as exc:
            raise_not_found(exc, self.ecosystem, name)
            raise  # unreachable: raise_not_found always raises

    async def _import_names(self, name: str, doc: Mapping[str, Any]) -> list[str]:
        """Module specifiers from the latest version's tarball; [] when it cannot be read."""
        versions = doc.get("versions")
        if not isinstance(versions, Mapping):
            return []
        chosen = import_version(doc)
        manifest = versions.get(chosen) if chosen else None
        dist = manifest.get("dist") if isinstance(manifest, Mapping) else None
        if not isinstance(dist, Mapping):
            return []
        tarball = dist.get("tarball")
        if not isinstance(tarball, str) or not tarball:
            return []
        url = self._tarball_url(tarball)
        attempts = 1 + self.http.config.retries
        for attempt in range(1, attempts + 1):
            try:
                response = await self.http.get(url, max_bytes=self.settings.sdist_max_bytes)
                if not _matches_digest(response.content, dist):
                    # A 200 with a damaged body: HTTP cannot tell, the published digest can.
                    raise MalformedPayload(f"{url}: body does not match dist.integrity", url=url)
                members = await asyncio.to_thread(
                    tar_member_names,
                    response.content,
                    max_entries=self.settings.archive_max_entries,
                )
            except MalformedPayload as exc:
                log.debug("npm %s: attempt %d at %s: %s", name, attempt, url, exc)
                if attempt < attempts:
                    self.http.counters.retries += 1
                continue
            except PayloadTooLarge as exc:
                log.debug("npm %s: no import names: %s", name, exc)
                return []
            except HttpStatusError as exc:
                if exc.status not in _GONE_STATUSES:
                    raise  # transient (429/5xx after retries): fail the package, retried next run
                log.debug("npm %s: tarball unavailable: %s", name, exc)
                return []
            return import_names_from_members(name, members)
        return []

    def _tarball_url(self, tarball: str) -> str:
        for public in _PUBLIC_REGISTRY:
            if tarball.startswith(public + "/") and self.registry_url != public:
                return self.registry_url + tarball[len(public) :]
        return tarball


def replicate_root_url(database_url: str) -> str:
    """The replica's root, where `update_seq` is read: the database URL without its last segment.

    registries.md §2.1: `GET https://replicate.npmjs.com/` gives update_seq while the feed is
    `/registry/_changes`; documents under `/registry/` are not served any more.
    """
    parts = urlsplit(database_url.rstrip("/"))
    parent = parts.path.rsplit("/", 1)[0] if "/" in parts.path else ""
    return urlunsplit((parts.scheme, parts.netloc, parent + "/", "", ""))


def _matches_digest(data: bytes, dist: Mapping[str, Any]) -> bool:
    """Check dist.integrity (sha512/sha256/sha1 SRI) or dist.shasum when the packument has one."""
    integrity = dist.get("integrity")
    if isinstance(integrity, str):
        for item in integrity.split():
            algorithm, _, expected = item.partition("-")
            if algorithm in ("sha512", "sha384", "sha256", "sha1"):
                digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
                return digest == expected
    shasum = dist.get("shasum")
    if isinstance(shasum, str) and len(shasum) == 40:
        return hashlib.sha1(data).hexdigest() == shasum.lower()
    return True


def _parse_page(doc: object, url: str) -> FeedPage:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("results"), list):
        raise MalformedPayload(f"{url}: not a _changes response", url=url)
    last_seq = _as_seq(doc.get("last_seq"))
    if last_seq is None:
        raise MalformedPayload(f"{url}: last_seq is not an integer sequence", url=url)
    rows = []
    for item in doc["results"]:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            raise MalformedPayload(f"{url}: a change row without an id: {item!r:.200}", url=url)
        changes = item.get("changes")
        rev = None
        if isinstance(changes, list) and changes and isinstance(changes[0], Mapping):
            value = changes[0].get("rev")
            rev = value if isinstance(value, str) else None
        rows.append(
            FeedRow(
                seq=_as_seq(item.get("seq")) or 0,
                id=item["id"],
                rev=rev,
                deleted=item.get("deleted") is True,
            )
        )
    return FeedPage(rows, last_seq)


def _as_seq(value: object) -> int | None:
    """Integer sequences (the 2025 replication API); digit strings are accepted too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _cursor_seq(cursor: Mapping[str, Any] | None) -> int | None:
    if not cursor:
        return None
    return _as_seq(cursor.get("seq"))


def _rev_of(doc: object) -> str | None:
    rev = doc.get("_rev") if isinstance(doc, Mapping) else None
    return rev if isinstance(rev, str) else None


def _worth_refetching(entry: KnownPackage, row: FeedRow) -> bool:
    """Extracted packages, and missing ones published again; pending ones the queue fetches."""
    if entry.status == PENDING:
        return False
    return not (entry.status == MISSING and row.deleted)
