"""What every registry client provides, and the read-only view of the graph it may consult."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ssc_cli.errors import HttpStatusError, PackageNotFound
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord

if TYPE_CHECKING:
    from ssc_cli.http import Http


class StoreView(Protocol):
    """The part of the graph store a registry may read while planning an update."""

    def cursor(self, key: str) -> dict[str, Any] | None: ...

    def tokens(self) -> Iterator[tuple[str, str | None]]:
        """(name, token) of every extracted package of the ecosystem."""
        ...

    def known(self, names: Iterable[str]) -> Mapping[str, KnownPackage]:
        """What the graph holds of these packages (absent names are not stored)."""
        ...


@dataclass(slots=True)
class ChangeSet:
    """What changed in a registry since the stored cursor."""

    # Stored packages whose registry data changed: each is refetched and rewritten.
    names: list[str] = field(default_factory=list)
    # Saved (under the key `update`) only after every write of this update committed.
    cursor: dict[str, Any] | None = None
    # Requests the feed itself cost, for the summary (informational).
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CursorLag:
    """How far a registry's head is past the stored update cursor (`ssc status --lag`).

    `value` is head minus cursor in `unit`; None with a `reason` when it cannot be measured
    cheaply, or the head cannot be read or compared (a feed that was reset, a file rebuilt).
    """

    value: int | None
    unit: str | None
    source: str  # what was read for the head, e.g. "X-PyPI-Last-Serial of HEAD /simple/"
    head: Any = None
    cursor: Any = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "unit": self.unit,
            "head": self.head,
            "cursor": self.cursor,
            "source": self.source,
            "reason": self.reason,
        }


def measured(head: int, stored: int, unit: str, source: str, *, behind: str) -> CursorLag:
    """head − stored, or no value with `behind` as the reason when the head is below the cursor
    (a replica renumbered, a file rebuilt): then the difference means nothing."""
    if head < stored:
        return CursorLag(None, unit, source, head, stored, behind)
    return CursorLag(head - stored, unit, source, head, stored)


async def head_number(
    http: Http, url: str, header: str, headers: Mapping[str, str], missing: str
) -> tuple[int | None, str | None]:
    """The integer in `header` of one HEAD of url, or None and why: its status when not 200,
    else `missing` (the server sends no such header, or not a number)."""
    response = await http.head_response(url, headers=dict(headers))
    if response.status != 200:
        return None, f"HEAD {url} answered {response.status}"
    value = response.headers.get(header, "").strip()
    return (int(value), None) if value.isdigit() else (None, missing)


class Registry(Protocol):
    """One registry client: builds URLs, parses payloads into records. No graph, no retries."""

    ecosystem: Ecosystem

    def list_names(self) -> AsyncIterator[str]:
        """Every package name the registry lists (raw spelling; the pipeline normalises)."""
        ...

    async def fetch(self, name: str, known: KnownPackage | None = None) -> PackageRecord:
        """One package with all its versions; per-version data only for versions not in known.

        Raises PackageNotFound when the registry does not know the package.
        """
        ...

    async def changes(self, view: StoreView) -> ChangeSet:
        """Stored packages that changed since the cursor saved by the last update."""
        ...

    def listing_cursor(self) -> dict[str, Any] | None:
        """After list_names: a cursor from which a first update can start, if the listing has one."""
        ...

    async def cursor_lag(self, cursor: Mapping[str, Any]) -> CursorLag:
        """The registry's head against a stored update cursor, with at most one small request
        (none where the head costs a large download); raises RegistryError when unreachable."""
        ...


def raise_not_found(exc: HttpStatusError, ecosystem: Ecosystem, name: str) -> None:
    """Turn a 404 into PackageNotFound; re-raise anything else unchanged."""
    if exc.status in (404, 410):
        raise PackageNotFound(
            f"{ecosystem.value} package {name!r} does not exist", url=exc.url
        ) from exc
    raise exc
