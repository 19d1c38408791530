"""update reads what the graph holds in chunks, and hands each fetch its own package's versions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord, VersionRecord
from ssc_cli.pipeline.update import UpdateOptions, update
from ssc_cli.registries.interface import ChangeSet, StoreView


class MemoryRegistry:
    """A registry held in memory: every stored package changed, each gains version 2.0."""

    ecosystem = Ecosystem.PYPI

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.seen: dict[str, frozenset[str]] = {}

    async def list_names(self) -> AsyncIterator[str]:
        for name in self.names:
            yield name

    async def fetch(self, name: str, known: KnownPackage | None = None) -> PackageRecord:
        self.seen[name] = known.versions if known else frozenset()
        return PackageRecord(
            self.ecosystem,
            name,
            [VersionRecord("1.0", requirements=None), VersionRecord("2.0", requirements=[])],
        )

    async def changes(self, view: StoreView) -> ChangeSet:
        return ChangeSet(
            names=[name for name, _ in view.tokens()], cursor={"seen": len(self.names)}
        )

    def listing_cursor(self) -> dict[str, Any] | None:
        return None


class CountingStore(SqliteStore):
    known_calls = 0

    def known(self, ecosystem: Ecosystem, names: Iterable[str]) -> dict[str, KnownPackage]:
        self.known_calls += 1
        return super().known(ecosystem, names)


def test_update_reads_known_versions_by_chunk(tmp_path: Path) -> None:
    names = [f"p{i:04d}" for i in range(1200)]
    store = CountingStore(tmp_path / "graph.sqlite")
    store.migrate()
    store.write_packages(
        [PackageRecord(Ecosystem.PYPI, n, [VersionRecord("1.0", requirements=[])]) for n in names]
    )
    registry = MemoryRegistry(names)
    summary = asyncio.run(update(registry, store, UpdateOptions(concurrency=16)))
    assert summary.packages_processed == 1200 and summary.total_versions == 1200
    assert store.known_calls == 3  # 1,200 packages in chunks of 500, not one query each
    assert set(registry.seen) == set(names)
    assert all(versions == frozenset({"1.0"}) for versions in registry.seen.values())
    assert store.cursor(Ecosystem.PYPI, "update") == {"seen": 1200}
    store.close()
