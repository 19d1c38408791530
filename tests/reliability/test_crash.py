"""Crash consistency: ssc SIGKILLed inside a graph write, right after a cursor save, or at seeded
random moments, then rerun, leaves exactly the graph of an undisturbed run; a cursor is never
ahead of committed data; a full graph (SQLITE_FULL) is exit 5 with nothing half-written.

Faults are planted by tests/reliability/faultpoints.py (a launcher patching the store in the child
only); 20 kills per command are in benchmarks/bench_crash.py.
"""

from __future__ import annotations

import random
import time

import pytest

from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.npm import NpmApp
from tests.fakeregistry.server import FakeRegistry
from tests.reliability import crash

pytestmark = pytest.mark.slow

N = 40
SMALL_BATCHES = {"SSC_WRITE_BATCH_SIZE": "4"}  # ten write transactions for 40 packages
SEED = 20261204


@pytest.fixture
def app(fake_registry: FakeRegistry) -> pypi.PyPIApp:
    registry = pypi.synthetic(N, versions=3, deps=2)
    fake_registry.mount("pypi", registry)
    return registry


@pytest.fixture
def npm(fake_registry: FakeRegistry) -> NpmApp:
    """npm keeps a change-feed cursor (PyPI has none): the cursor cases run on it."""
    registry = NpmApp.synthetic(N, versions=3, deps=2)
    registry.mount(fake_registry)
    return registry


def _change(npm: NpmApp) -> None:
    """The registry moves on: new releases with a dependency, a deprecation (an update's work)."""
    first, second, third = sorted(npm.docs)[:3]
    npm.publish(first, "9.0.0", dependencies={second: "^1.0.0"})
    npm.publish(third, "9.0.0")
    version = sorted(npm.docs[second]["versions"])[0]
    npm.deprecate(second, version, "use something else")


@pytest.mark.parametrize("write", sorted(random.Random(SEED).sample(range(1, 10), 3)))
def test_ingest_killed_inside_a_graph_write(ssc: Ssc, app: pypi.PyPIApp, write: int) -> None:
    clean = ssc.with_graph("clean.sqlite")
    clean("ingest", "pypi", env=SMALL_BATCHES)
    reference = clean.export()
    killed = crash.faulted(ssc, f"write:{write}", "ingest", "pypi", env=SMALL_BATCHES)
    assert killed.returncode == -9, killed.stderr
    assert crash.integrity(ssc) == "ok"
    partial = ssc.export()
    extracted = [i for i in partial if i["type"] == "package" and i["status"] == "extracted"]
    assert len(extracted) < N  # the killed transaction was not committed
    assert crash.whole(partial, reference) == []  # what was committed is whole
    assert crash.cursor(ssc, "pypi") is None  # no cursor for an ingest that did not finish
    ssc("ingest", "pypi", env=SMALL_BATCHES)
    assert ssc.export() == reference


def test_ingest_killed_right_after_its_cursor_save(ssc: Ssc, npm: NpmApp) -> None:
    clean = ssc.with_graph("clean.sqlite")
    clean("ingest", "npm")
    reference = clean.export()
    killed = crash.faulted(ssc, "cursor:1", "ingest", "npm")
    assert killed.returncode == -9, killed.stderr
    saved = crash.cursor(ssc, "npm")
    assert saved is not None and saved == crash.cursor(clean, "npm")
    assert ssc.export() == reference  # the cursor is saved after the data it covers
    ssc("ingest", "npm")
    assert ssc.export() == reference


@pytest.mark.parametrize("fault", ["write:1", "cursor:1"])
def test_update_killed_in_its_write_or_after_its_cursor(ssc: Ssc, npm: NpmApp, fault: str) -> None:
    ssc("ingest", "npm")
    before = crash.cursor(ssc, "npm")
    assert before is not None
    _change(npm)
    clean = ssc.with_graph("clean.sqlite")
    crash.copy_graph(ssc, clean)
    clean("update", "npm")
    reference = clean.export()
    killed = crash.faulted(ssc, fault, "update", "npm")
    assert killed.returncode == -9, killed.stderr
    assert crash.integrity(ssc) == "ok"
    after = crash.cursor(ssc, "npm")
    if fault.startswith("write"):
        assert after == before  # the write was lost: so is the cursor move
        assert ssc.export() != reference
    else:
        assert after is not None and after == crash.cursor(clean, "npm") != before
        assert ssc.export() == reference
    ssc("update", "npm")
    assert ssc.export() == reference


def test_ingest_killed_at_seeded_random_moments(
    ssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry
) -> None:
    clean = ssc.with_graph("clean.sqlite")
    clean("ingest", "pypi", env=SMALL_BATCHES)
    reference = clean.export()
    fake_registry.latency = 0.01  # the run lasts long enough to be hit at a random moment
    # The moments are shares of an undisturbed run's length on this machine, so the first kill
    # lands inside the run however fast the machine is (later runs resume, and may end first).
    started = time.monotonic()
    ssc.with_graph("timed.sqlite")("ingest", "pypi", env=SMALL_BATCHES)
    duration = time.monotonic() - started
    rng = random.Random(SEED)
    codes = []
    for _ in range(3):
        delay = rng.uniform(0.2, 0.7) * duration
        codes.append(crash.killed_after(ssc, delay, "ingest", "pypi", env=SMALL_BATCHES))
        if not crash.graph_path(ssc).is_file():
            continue  # killed before the graph was created
        assert crash.integrity(ssc) == "ok"
        partial = ssc.export()
        assert crash.whole(partial, reference) == []
        if crash.cursor(ssc, "pypi") is not None:
            assert partial == reference
    assert -9 in codes, codes  # at least one kill landed before the run ended
    ssc("ingest", "pypi", env=SMALL_BATCHES)
    assert ssc.export() == reference


def test_a_full_graph_is_exit_5_with_nothing_half_written(ssc: Ssc, app: pypi.PyPIApp) -> None:
    clean = ssc.with_graph("clean.sqlite")
    clean("ingest", "pypi", env=SMALL_BATCHES)
    reference = clean.export()
    ssc("ingest", "pypi", "--limit", "4", "--no-follow-deps", env=SMALL_BATCHES)
    before = ssc.export()
    full = crash.faulted(ssc, "pages:3", "ingest", "pypi", env=SMALL_BATCHES)
    assert full.returncode == 5, full.stdout + full.stderr
    assert "full" in full.stderr and str(crash.graph_path(ssc)) in full.stderr
    assert "Traceback" not in full.stderr
    assert crash.integrity(ssc) == "ok"
    partial = ssc.export()
    assert crash.whole(partial, reference) == []
    assert len(partial) >= len(before)
    assert crash.cursor(ssc, "pypi") is None
    ssc("ingest", "pypi", env=SMALL_BATCHES)  # room again: the next run completes the graph
    assert ssc.export() == reference
