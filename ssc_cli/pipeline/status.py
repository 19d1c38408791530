"""`ssc status`: the freshness rows, with what only the pipeline layer can read (the queue, and
with --lag each registry's head against the stored update cursor)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ssc_cli.errors import RegistryError, SscError
from ssc_cli.graph.interface import GraphStore
from ssc_cli.models import Ecosystem
from ssc_cli.pipeline.checks import dead_letters
from ssc_cli.quality.freshness import StatusRow, status_rows
from ssc_cli.registries import close_registry
from ssc_cli.registries.interface import CursorLag, Registry
from ssc_cli.settings import Settings


def status(
    store: GraphStore,
    settings: Settings,
    ecosystems: Sequence[Ecosystem],
    *,
    now: datetime | None = None,
    lags: Mapping[Ecosystem, dict[str, Any]] | None = None,
) -> list[StatusRow]:
    """One row per dataset; the dead-letter length when Redis is configured and answers."""
    dead = dead_letters(settings)
    return status_rows(
        store,
        settings,
        ecosystems,
        now=now,
        dead_letters=dead if isinstance(dead, int) else None,
        lags=lags,
    )


async def cursor_lags(
    store: GraphStore,
    ecosystems: Sequence[Ecosystem],
    open_registry: Callable[[Ecosystem], Registry],
) -> dict[Ecosystem, dict[str, Any]]:
    """Each registry's lag behind its head (`update <eco>` rows), measured concurrently by the
    registry's own client; one without a stored cursor costs no request. A registry that cannot
    be reached gets no value and the error as its reason: status still prints and exits as usual.
    """
    cursors = {eco: store.cursor(eco, "update") for eco in ecosystems}

    async def one(eco: Ecosystem) -> dict[str, Any]:
        cursor = cursors[eco]
        if cursor is None:
            reason = f"no update cursor stored yet (run ssc update {eco.value})"
            return CursorLag(None, None, "none", reason=reason).as_dict()
        registry = open_registry(eco)
        try:
            lag = await registry.cursor_lag(cursor)
        except RegistryError as exc:
            lag = CursorLag(None, None, "none", reason=f"registry not reached: {exc}")
        except SscError as exc:  # a configuration the head cannot be read with
            lag = CursorLag(None, None, "none", reason=f"not measured: {exc}")
        finally:
            close_registry(registry)
        return lag.as_dict()

    measured = await asyncio.gather(*(one(eco) for eco in ecosystems))
    return dict(zip(ecosystems, measured, strict=True))
