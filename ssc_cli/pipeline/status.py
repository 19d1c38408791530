"""`ssc status`: the freshness rows, with what only the pipeline layer can read (the queue)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ssc_cli.graph.interface import GraphStore
from ssc_cli.models import Ecosystem
from ssc_cli.pipeline.checks import dead_letters
from ssc_cli.quality.freshness import StatusRow, status_rows
from ssc_cli.settings import Settings


def status(
    store: GraphStore,
    settings: Settings,
    ecosystems: Sequence[Ecosystem],
    *,
    now: datetime | None = None,
) -> list[StatusRow]:
    """One row per dataset; the dead-letter length when Redis is configured and answers."""
    dead = dead_letters(settings)
    return status_rows(
        store,
        settings,
        ecosystems,
        now=now,
        dead_letters=dead if isinstance(dead, int) else None,
    )
