"""licenses sync: the SPDX list into the graph when its version changed, then every package again.

The list is small and changes about quarterly, so it is rewritten whole when licenseListVersion
differs from the stored one and left alone (zero graph writes besides the run record) when it
does not (seed, part 3). The runtime guards refuse an empty or shrunken list before anything is
written (QualityGateError, exit 3).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ssc_cli.graph.interface import GraphStore
from ssc_cli.licenses import spdx
from ssc_cli.licenses.classify import Classifier
from ssc_cli.licenses.index import LicenseIndex
from ssc_cli.models import Ecosystem
from ssc_cli.pipeline.classify import classify_stored
from ssc_cli.pipeline.extract import recorded_run, run_status
from ssc_cli.pipeline.stop import Stop
from ssc_cli.progress import Advance

JOB = "licenses-sync"

# GET a URL and return its body (the shared HTTP layer, wrapped by the CLI).
Fetch = Callable[[str], Awaitable[bytes]]


@dataclass
class SyncSummary:
    source: str
    license_list_version: str | None = None
    previous_version: str | None = None
    release_date: str | None = None
    licenses: int = 0
    osi_approved: int = 0
    exceptions: int = 0
    written: bool = False
    skipped: str | None = None  # "unchanged" when the stored list has the same version
    reclassified: dict[str, Any] | None = None  # the classify summary of the re-run
    elapsed: float = 0.0
    stopped: str | None = None  # "signal": the reclassification was ended by SIGTERM/SIGINT
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def fetch_list(source: str, fetch: Fetch) -> spdx.LicenseList:
    """licenses.json and exceptions.json from a URL folder (through `fetch`) or a local folder."""
    kind, where = spdx.source_kind(source)
    if kind == "path":
        return spdx.read_local(where)
    licenses = await fetch(where + spdx.LICENSES_FILE)
    exceptions = await fetch(where + spdx.EXCEPTIONS_FILE)
    return spdx.parse_list(licenses, exceptions, where)


async def sync_licenses(
    store: GraphStore,
    source: str,
    fetch: Fetch,
    *,
    guards: spdx.Guards,
    reclassify: bool = True,
    batch_size: int = 1000,
    progress: Advance | None = None,
    stop: Stop | None = None,
) -> SyncSummary:
    """Fetch, validate, guard, and write the list if its version changed; then reclassify (a
    stop ends that between pages: `ssc classify` finishes what is classified under the old list)."""
    started = time.monotonic()
    summary = SyncSummary(source=source)
    with recorded_run(store, JOB, None, dry_run=False) as summary.run_id:
        new = await fetch_list(source, fetch)
        stored = store.license_list_info()
        summary.license_list_version = new.version
        summary.release_date = new.release_date
        summary.previous_version = stored.version if stored else None
        summary.licenses, summary.osi_approved = new.licenses, new.osi_approved
        summary.exceptions = new.exceptions
        if stored is not None and stored.version == new.version:
            summary.skipped = "unchanged"
        else:
            guards.check(new, stored)
            store.replace_license_list(new.version, new.release_date, new.records)
            summary.written = True
            if reclassify:
                classifier = Classifier(LicenseIndex(new.records, new.version))
                reclassified = classify_stored(
                    store,
                    list(Ecosystem),
                    every=True,
                    batch_size=batch_size,
                    progress=progress,
                    classifier=classifier,
                    stop=stop,
                )
                summary.reclassified = reclassified.as_dict()
                summary.stopped = reclassified.stopped
        summary.elapsed = round(time.monotonic() - started, 3)
        assert summary.run_id is not None
        store.finish_run(summary.run_id, run_status(summary.stopped, []), summary.as_dict())
    return summary
