"""PyPI: the PEP 691 listing, the JSON API per project and per new version, wheel file lists.

reference/registries.md §1: one `/simple/` request lists every project with its `_last-serial`;
an update refetches only projects whose serial moved (the bandersnatch model).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from packaging.utils import canonicalize_name

from ssc_cli.concurrency import all_or_first_error
from ssc_cli.errors import HttpStatusError, MalformedPayload, PayloadTooLarge
from ssc_cli.http import Http
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord, VersionRecord
from ssc_cli.registries.archives import tar_member_names, zip_member_names
from ssc_cli.registries.interface import (
    ChangeSet,
    CursorLag,
    StoreView,
    head_number,
    measured,
    raise_not_found,
)
from ssc_cli.registries.pypi import parse
from ssc_cli.repository import vendor_of
from ssc_cli.settings import Settings

log = logging.getLogger(__name__)


class PyPIRegistry:
    """Client of a PyPI-compatible index (pypi.org or a mirror at SSC_PYPI_URL)."""

    ecosystem = Ecosystem.PYPI

    def __init__(self, settings: Settings, http: Http) -> None:
        self.base = settings.pypi_url.rstrip("/")
        self.http = http
        self.kinds = settings.kinds
        self.import_names = settings.import_names
        self.sdist_max_bytes = settings.sdist_max_bytes
        self.max_entries = settings.archive_max_entries
        http.limit_host(self.base, rate=settings.pypi_rate, concurrency=settings.pypi_concurrency)
        self._listing: dict[str, int | None] | None = None

    async def listing(self) -> dict[str, int | None]:
        """Every project name with its last serial (one request, cached for the run)."""
        if self._listing is None:
            url = f"{self.base}/simple/"
            self._listing = await self.http.get_parsed(
                url,
                lambda r: parse.parse_simple_listing(
                    r.content, r.headers.get("content-type", ""), url
                ),
                headers={"Accept": f"{parse.SIMPLE_JSON}, text/html;q=0.1"},
            )
        return self._listing

    async def list_names(self) -> AsyncIterator[str]:
        for name in await self.listing():
            yield name

    def listing_cursor(self) -> dict[str, Any] | None:
        return None  # PyPI updates compare per-project serials, no global cursor needed

    async def changes(self, view: StoreView) -> ChangeSet:
        """Stored projects whose listed serial is newer than the one stored with them."""
        listing: dict[str, int | None] = {
            str(canonicalize_name(n)): s for n, s in (await self.listing()).items()
        }
        changed = []
        for name, token in view.tokens():
            serial = listing.get(name)
            if serial is None:
                # Unlisted now (deleted, or an HTML listing without serials): re-check it.
                changed.append(name)
            elif token is None or not token.isdigit() or int(token) < serial:
                changed.append(name)
        top = max((s for s in listing.values() if s is not None), default=None)
        return ChangeSet(names=changed, cursor={"serial": top} if top is not None else None)

    async def cursor_lag(self, cursor: Mapping[str, Any]) -> CursorLag:
        """Serials (journal entries) between the cursor and the index's last serial, from the
        `X-PyPI-Last-Serial` header of one HEAD of `/simple/` (no listing body is read)."""
        url = f"{self.base}/simple/"
        source = "X-PyPI-Last-Serial of HEAD /simple/"
        stored = cursor.get("serial")
        head, problem = await head_number(
            self.http,
            url,
            "x-pypi-last-serial",
            {"Accept": f"{parse.SIMPLE_JSON}, text/html;q=0.1"},
            f"{url} sends no X-PyPI-Last-Serial header (a mirror without serials)",
        )
        if head is None:
            return CursorLag(None, "serials", source, cursor=stored, reason=problem)
        if not isinstance(stored, int):
            return CursorLag(None, "serials", source, head, stored, "no serial in the cursor")
        behind = "the index's last serial is below the cursor (the cursor is from another index?)"
        return measured(head, stored, "serials", source, behind=behind)

    async def fetch(self, name: str, known: KnownPackage | None = None) -> PackageRecord:
        normalized = canonicalize_name(name)
        url = f"{self.base}/pypi/{normalized}/json"
        try:
            project = await self._project(url)
        except HttpStatusError as exc:
            raise_not_found(exc, self.ecosystem, normalized)
        info = project.info
        have = known.versions if known else frozenset()
        latest = info.version
        new = [v for v in project.releases if v not in have]
        per_version = await all_or_first_error(
            self._version_info(normalized, v, info if v == latest else None) for v in new
        )
        details = dict(zip(new, per_version, strict=True))
        versions = []
        for version, files in project.releases.items():
            version_info = details.get(version)
            versions.append(
                VersionRecord(
                    name=version,
                    release_date=parse.release_date(files),
                    yanked=bool(files) and all(f.yanked for f in files),
                    requirements=(
                        parse.requirements(version_info.requires_dist)
                        if version_info is not None
                        else None
                    ),
                    licenses=parse.license_signals(version_info) if version_info else {},
                )
            )
        repository = parse.repository_url(info) or "n/a"
        imports = await self._import_names(project) if self.import_names else None
        return PackageRecord(
            ecosystem=self.ecosystem,
            name=normalized,
            versions=versions,
            repository_url=repository,
            vendor=vendor_of(repository),
            import_names=imports,
            token=str(project.last_serial) if project.last_serial is not None else None,
            licenses=parse.license_signals(info),
            extra={"display_name": info.name} if info.name != normalized else {},
        )

    async def _version_info(
        self, name: str, version: str, latest_info: parse.PyPIInfo | None
    ) -> parse.PyPIInfo:
        """A release's own metadata (its requires_dist); the latest is already in the project JSON."""
        if latest_info is not None:
            return latest_info
        url = f"{self.base}/pypi/{name}/{version}/json"
        try:
            project = await self._project(url)
        except HttpStatusError as exc:
            if exc.status == 404:  # a release the version endpoint cannot resolve: no metadata
                return parse.PyPIInfo(name=name, version=version, requires_dist=[])
            raise
        return project.info

    async def _project(self, url: str) -> parse.PyPIProject:
        """A JSON API document: a body that is not JSON is fetched again (then raised), one of
        the wrong shape raised as it is (schema drift)."""
        project = await self.http.get_parsed(url, lambda r: parse.decode_project(r.content, url))
        if isinstance(project, MalformedPayload):
            raise project
        return project

    async def _import_names(self, project: parse.PyPIProject) -> list[str]:
        """From the newest release's wheel (central directory by range), else a capped sdist."""
        files = project.releases.get(project.info.version or "", []) or project.urls
        if not files and project.info.version:
            files = await self._simple_files(project.info.name, project.info.version)
        wheels = [f for f in files if f.filename.endswith(".whl") and not f.yanked]
        wheels.sort(key=lambda f: ("none-any" not in f.filename, f.filename))
        sdists = [f for f in files if f.packagetype == "sdist" and not f.yanked]
        try:
            if wheels:
                members = await zip_member_names(
                    self.http, wheels[0].url, max_entries=self.max_entries
                )
                return parse.wheel_import_names(members)
            if sdists:
                sdist = sdists[-1]
                if sdist.filename.endswith(".zip"):
                    members = await zip_member_names(
                        self.http, sdist.url, max_entries=self.max_entries
                    )
                elif self.sdist_max_bytes == 0 or (
                    sdist.size is not None and sdist.size > self.sdist_max_bytes
                ):
                    return []
                else:
                    # A garbled body is fetched again, then counted as malformed.
                    members = await self.http.get_parsed(
                        sdist.url,
                        lambda r: tar_member_names(r.content, max_entries=self.max_entries),
                        conditional=False,
                        max_bytes=self.sdist_max_bytes,
                    )
                return parse.sdist_import_names(members)
        except (MalformedPayload, PayloadTooLarge) as exc:
            log.debug("no import names for %s: %s", project.info.name, exc)
        except HttpStatusError as exc:
            if exc.status not in (403, 404, 410, 416):
                raise  # transient (429/5xx after retries): fail the package so it is retried
            log.debug("artefact of %s unavailable: %s", project.info.name, exc)
        return []

    async def _simple_files(self, name: str, version: str) -> list[parse.PyPIFile]:
        """Files of one release from the project's simple page (mirrors whose JSON API lists none)."""
        url = f"{self.base}/simple/{canonicalize_name(name)}/"
        try:
            response = await self.http.get(
                url, headers={"Accept": f"{parse.SIMPLE_JSON}, text/html;q=0.1"}
            )
        except HttpStatusError:
            return []
        files = parse.parse_simple_project(
            response.content, response.headers.get("content-type", ""), url
        )
        return [
            parse.PyPIFile(filename=f.filename, url=f.url, packagetype=kind, yanked=f.yanked)
            for f in files
            if (kind := parse.distribution_of(f.filename, name, version)) is not None
        ]
