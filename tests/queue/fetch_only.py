"""A registry for drain tests, which only ever fetch: listing and changes are not theirs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ssc_cli.models import Ecosystem
from ssc_cli.registries.interface import ChangeSet, StoreView


class FetchOnlyRegistry:
    """The Registry protocol without a listing; subclasses give `fetch`."""

    ecosystem = Ecosystem.PYPI

    def list_names(self) -> AsyncIterator[str]:
        raise AssertionError("not used")

    async def changes(self, view: StoreView) -> ChangeSet:
        raise AssertionError("not used")

    def listing_cursor(self) -> dict[str, Any] | None:
        return None
