"""The real PyPI pipeline writing to every store: ingest, registry changes, update; same export."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.graph.interface import GraphStore
from ssc_cli.http import Http, HttpConfig
from ssc_cli.models import Ecosystem
from ssc_cli.pipeline.ingest import IngestOptions, ingest
from ssc_cli.pipeline.update import UpdateOptions, update
from ssc_cli.registries import open_registry
from ssc_cli.settings import Settings, load_settings
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry
from tests.graph_stores import NEO4J, open_store


@pytest.fixture
def settings(
    tmp_path: Path, fake_registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    for key in [k for k in os.environ if k.startswith(("SSC_", "GRAPH_DB_"))]:
        monkeypatch.delenv(key)
    env = {
        "SSC_DATA_DIR": str(tmp_path / "data"),
        "SSC_CACHE_DIR": str(tmp_path / "cache"),
        "SSC_HTTP_RATE_LIMIT": "off",
        "SSC_HTTP_BACKOFF_BASE": "0.01",
        "SSC_HTTP_BACKOFF_MAX": "0.2",
        "SSC_HTTP_TIMEOUT": "5",
        "SSC_USER_AGENT": "ssc-tests/0 (+tests)",
        "SSC_PYPI_URL": fake_registry.url("pypi"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return load_settings()


def _run(settings: Settings, store: GraphStore, job: str) -> Any:
    async def main() -> Any:
        async with Http(HttpConfig.from_settings(settings)) as http:
            registry = open_registry(Ecosystem.PYPI, settings, http)
            if job == "ingest":
                return await ingest(registry, store, IngestOptions(concurrency=4, batch_size=7))
            return await update(registry, store, UpdateOptions(concurrency=4, batch_size=7))

    return asyncio.run(main())


def _show(store: GraphStore, name: str) -> dict[str, Any] | None:
    shown = store.show(Ecosystem.PYPI, name)
    if shown is not None:
        shown.pop("moment")  # the time of each store's own write
    return shown


@pytest.mark.parametrize("other", ["neo4j-emulated", NEO4J])
def test_pipeline_writes_the_same_graph_to_every_store(
    other: str,
    settings: Settings,
    fake_registry: FakeRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = pypi.synthetic(25, versions=3, deps=2)
    fake_registry.mount("pypi", app)
    stores = {kind: open_store(kind, tmp_path, monkeypatch) for kind in ["sqlite", other]}
    try:
        for store in stores.values():
            assert _run(settings, store, "ingest").new_packages_ingested == 25
        first = {kind: list(store.export()) for kind, store in stores.items()}
        assert first[other] == first["sqlite"]

        app.release("pkg-00003", "3.0.0", requires_dist=["pkg-00001>=1", "brand-new"])
        app.projects["pkg-00004"].releases["1.1.0"].yanked = True
        app.touch("pkg-00004")
        del app.projects["pkg-00005"].releases["0.2.0"]
        app.touch("pkg-00005")
        app.add("brand-new")
        app.release("brand-new", "1.0")
        for store in stores.values():
            summary = _run(settings, store, "update")
            assert (summary.packages_processed, summary.errors) == (3, 0)
            _run(settings, store, "ingest")
            assert _run(settings, store, "update").packages_processed == 0

        fresh = open_store("sqlite", tmp_path, monkeypatch)
        _run(settings, fresh, "ingest")
        expected = list(fresh.export())
        fresh.close()
        assert any(i.get("purl") == "pkg:pypi/brand-new@1.0" for i in expected)
        for kind, store in stores.items():
            assert list(store.export()) == expected, kind
            assert _show(store, "pkg-00003") == _show(stores["sqlite"], "pkg-00003"), kind
    finally:
        for store in stores.values():
            store.close()
