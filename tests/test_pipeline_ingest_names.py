"""ingest keeps no set of every listed name, yet fetches each package once (issue 16)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.graph.interface import EXTRACTED
from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord, Requirement, VersionRecord
from ssc_cli.pipeline import ingest as ingest_module
from ssc_cli.pipeline.ingest import IngestOptions, ingest, publish_new
from ssc_cli.registries.interface import ChangeSet, StoreView


class ChainRegistry:
    """p0000..: each package depends on the next two, so dependencies race the listing."""

    ecosystem = Ecosystem.PYPI

    def __init__(self, n: int) -> None:
        self.n = n
        self.fetched: Counter[str] = Counter()

    async def list_names(self) -> AsyncIterator[str]:
        for i in range(self.n):
            yield f"p{i:04d}"

    async def fetch(self, name: str, known: KnownPackage | None = None) -> PackageRecord:
        self.fetched[name] += 1
        await asyncio.sleep(0)
        i = int(name[1:])
        deps = [
            Requirement(name=f"p{j:04d}", constraints="any") for j in (i + 1, i + 2) if j < self.n
        ]
        return PackageRecord(self.ecosystem, name, [VersionRecord("1.0", requirements=deps)])

    async def changes(self, view: StoreView) -> ChangeSet:
        return ChangeSet()

    def listing_cursor(self) -> dict[str, Any] | None:
        return None


def test_ingest_prunes_seen_names_and_fetches_each_package_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "_SEEN_PRUNE_AT", 40)
    store = SqliteStore(tmp_path / "graph.sqlite")
    store.migrate()
    registry = ChainRegistry(1500)
    largest = 0
    real_prune = ingest_module._Names._prune

    def watched(self: Any) -> None:
        nonlocal largest
        largest = max(largest, len(self.seen))
        real_prune(self)

    monkeypatch.setattr(ingest_module._Names, "_prune", watched)
    summary = asyncio.run(ingest(registry, store, IngestOptions(batch_size=20)))
    assert summary.new_packages_ingested == 1500
    assert set(registry.fetched.values()) == {1}  # dependencies and the listing never doubled
    assert store.count(Ecosystem.PYPI, EXTRACTED) == 1500
    assert 0 < largest < 1500  # pruned during the run, never holding every name
    store.close()


def test_enqueue_planning_lists_each_name_once_and_skips_extracted(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "graph.sqlite")
    store.migrate()
    store.write_packages(
        [
            PackageRecord(Ecosystem.PYPI, f"p{i:04d}", [VersionRecord("1.0", requirements=[])])
            for i in range(0, 300, 3)
        ]
    )
    published: list[str] = []

    async def publish(names: list[str]) -> int:
        published.extend(names)
        return len(names)

    summary = asyncio.run(publish_new(ChainRegistry(300), store, publish, IngestOptions()))
    assert summary.skipped_existing == 100
    assert sorted(published) == [f"p{i:04d}" for i in range(300) if i % 3]
    store.close()
