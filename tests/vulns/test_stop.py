"""`vulns attribute` and `vulns sync` end between batches on SIGTERM (ssc_cli.pipeline.stop)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem, PackageRecord, VersionRecord
from ssc_cli.pipeline.stop import stop_on_signals
from ssc_cli.pipeline.vulns import ATTRIBUTE_CURSOR, AttributeOptions, SyncOptions, attribute, sync
from ssc_cli.vulns.interface import parse_advisory
from ssc_cli.vulns.osv import Loaded, OsvStore
from ssc_cli.vulns.sync import BATCH
from tests.vuln_sources import pypi_advisory

PYPI = Ecosystem.PYPI


def test_sigterm_ends_an_attribution_between_batches_and_keeps_the_cursor(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "graph.sqlite")
    osv = OsvStore(tmp_path / "osv.sqlite")
    try:
        store.migrate()
        store.write_packages(
            [
                PackageRecord(PYPI, f"p{i}", [VersionRecord("1.0", requirements=[])])
                for i in range(10)
            ]
        )
        osv.upsert(
            [
                Loaded(parse_advisory(r), r)
                for r in [pypi_advisory(f"A-{i}", f"p{i}") for i in range(10)]
            ]
        )
        options = AttributeOptions(batch_size=4)
        with stop_on_signals() as stop:
            summary = attribute(
                store,
                osv,
                options,
                progress=lambda n: os.kill(os.getpid(), signal.SIGTERM),
                stop=stop,
            )
        assert stop.signum == signal.SIGTERM and stop.exit_code == 143
        assert summary.stopped == "signal" and summary.packages_reattributed == 4
        assert summary.newly_vulnerable == 4 and summary.cursors_saved == []
        assert store.cursor(PYPI, ATTRIBUTE_CURSOR) is None
        [(status,)] = store._db.execute(
            "SELECT status FROM runs WHERE job = 'vulns-attribute'"
        ).fetchall()
        assert status == "stopped"
        rest = attribute(store, osv, options)  # the next run finishes: only what still changes
        assert rest.stopped is None and rest.newly_vulnerable == 6 and rest.versions_changed == 6
        assert store.cursor(PYPI, ATTRIBUTE_CURSOR) is not None
    finally:
        osv.close()
        store.close()


class SignallingStore(OsvStore):
    """An OSV store that receives SIGTERM while it commits its first batch."""

    def upsert(self, batch: Any) -> Any:
        result = super().upsert(batch)
        os.kill(os.getpid(), signal.SIGTERM)
        return result


def test_sigterm_ends_a_sync_between_batches_with_the_written_records_kept(
    tmp_path: Path,
) -> None:
    records = tmp_path / "records"
    records.mkdir()
    total = BATCH * 2 + 100
    for i in range(total):
        (records / f"A-{i:05}.json").write_text(json.dumps(pypi_advisory(f"A-{i:05}", f"p{i}")))
    store = SqliteStore(tmp_path / "graph.sqlite")
    osv = SignallingStore(tmp_path / "osv.sqlite")
    try:
        store.migrate()
        with stop_on_signals() as stop:
            summary = asyncio.run(sync(store, osv, None, SyncOptions(paths=[records]), stop=stop))
        assert summary.stopped == "signal" and summary.records_loaded == BATCH
        assert osv.count() == BATCH
        [(status,)] = store._db.execute(
            "SELECT status FROM runs WHERE job = 'vulns-sync'"
        ).fetchall()
        assert status == "stopped"
        second = OsvStore(tmp_path / "osv.sqlite")
        try:
            again = asyncio.run(sync(store, second, None, SyncOptions(paths=[records])))
        finally:
            second.close()
        assert (again.records_skipped, again.records_loaded, again.stopped) == (
            BATCH,
            total - BATCH,
            None,
        )
    finally:
        osv.close()
        store.close()
