"""SIGTERM and SIGINT end a job cleanly: what was fetched is committed, the summary says
`stopped: signal`, no cursor moves past unwritten work, and it works for ssc as PID 1."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem, LicenseRecord, PackageRecord, VersionRecord
from ssc_cli.pipeline.classify import classify_stored
from ssc_cli.pipeline.rebuild import RebuildOptions, rebuild
from ssc_cli.pipeline.stop import Stop, Stopped
from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry, Faults

PYPI = Ecosystem.PYPI
COUNT = 120


@pytest.fixture
def app(fake_registry: FakeRegistry) -> pypi.PyPIApp:
    registry = pypi.synthetic(COUNT, versions=2, deps=1, wheels=False)
    fake_registry.mount("pypi", registry)
    return registry


def _extracted(ssc: Ssc) -> int:
    import sqlite3
    from contextlib import closing

    try:
        with closing(sqlite3.connect(ssc.graph_uri.removeprefix("sqlite:///"))) as db:
            row = db.execute("SELECT count(*) FROM packages WHERE status = 'extracted'").fetchone()
            return int(row[0])
    except sqlite3.Error:
        return 0  # not created yet


def _wait_until(condition: object, process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():  # type: ignore[operator]
        assert process.poll() is None, f"ssc ended before {what}: {process.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _runs(ssc: Ssc) -> list[tuple[str, str]]:
    store = SqliteStore.from_uri(ssc.graph_uri)
    try:
        rows = store._db.execute("SELECT job, status FROM runs ORDER BY id").fetchall()
    finally:
        store.close()
    return [(str(job), str(status)) for job, status in rows]


def _update_cursor(ssc: Ssc) -> dict[str, object] | None:
    store = SqliteStore.from_uri(ssc.graph_uri)
    try:
        return store.cursor(PYPI, "update")
    finally:
        store.close()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_ingest_commits_the_fetched_packages_and_reports(
    ssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry, signum: int, code: int
) -> None:
    clean = ssc.with_graph("clean.sqlite")
    clean("ingest", "pypi")
    fake_registry.latency = 0.02
    env = {"SSC_WRITE_BATCH_SIZE": "5"}
    process = ssc.popen("ingest", "pypi", "--concurrency", "2", "--json", env=env)
    _wait_until(lambda: _extracted(ssc) >= 10, process, "a few committed batches")
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    summary = json.loads(out)
    assert summary["stopped"] == "signal"
    assert "received: finishing the batch in hand" in err
    # Everything fetched was written, and the run record says it stopped.
    assert 10 <= summary["new_packages_ingested"] < COUNT
    assert _extracted(ssc) == summary["new_packages_ingested"]
    assert _runs(ssc) == [("ingest", "stopped")]
    fake_registry.latency = 0.0
    rerun = ssc.json("ingest", "pypi")
    assert rerun["stopped"] is None and rerun["errors"] == 0
    assert ssc.export() == clean.export()


def test_a_signal_during_update_keeps_the_cursor(
    ssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry
) -> None:
    ssc("ingest", "pypi")
    before = _update_cursor(ssc)
    for i in range(0, COUNT, 2):
        app.release(f"pkg-{i:05d}", "9.0.0", requires_dist=[])
    fake_registry.latency = 0.05
    fake_registry.clear_log()
    process = ssc.popen(
        "update", "pypi", "--concurrency", "1", "--json", env={"SSC_WRITE_BATCH_SIZE": "2"}
    )
    _wait_until(lambda: len(fake_registry.requests(r"/json$")) >= 6, process, "a few fetches")
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    summary = json.loads(out)
    assert summary["stopped"] == "signal" and summary["cursor_saved"] is False
    assert 0 < summary["packages_processed"] < COUNT // 2
    assert _update_cursor(ssc) == before
    fake_registry.latency = 0.0
    finished = ssc.json("update", "pypi")
    # The rest is picked up because the cursor stayed behind it.
    assert summary["packages_processed"] + finished["packages_processed"] >= COUNT // 2
    assert finished["cursor_saved"] and _update_cursor(ssc) != before
    shown = ssc.json("graph", "show", "pypi", f"pkg-{COUNT - 2:05d}")
    assert "9.0.0" in {v["name"] for v in shown["versions"]}


def test_fetches_hanging_past_the_grace_are_abandoned(
    ssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    names = tmp_path / "names.txt"
    names.write_text("pkg-00001\npkg-00002\n")
    fake_registry.faults = Faults(rate_timeout=1.0, only=r"/pypi/pypi/", timeout_seconds=60)
    env = {"SSC_HTTP_TIMEOUT": "120", "SSC_STOP_GRACE": "0.5"}
    process = ssc.popen("ingest", "pypi", "--names-from", str(names), env=env)
    _wait_until(lambda: fake_registry.in_flight >= 2, process, "two hanging fetches")
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=50)  # the fetches would hang for 60 s
    assert process.returncode == 143, err
    # Abandoned is not failed: nothing is recorded against them, the next run takes them.
    assert "ingest pypi: 0 new, 0 skipped, 0 missing, 0 errors" in err
    assert "(stopped: signal)" in err
    assert _runs(ssc) == [("ingest", "stopped")]


def test_a_second_signal_aborts_at_once(
    ssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    names = tmp_path / "names.txt"
    names.write_text("pkg-00001\n")
    fake_registry.faults = Faults(rate_timeout=1.0, only=r"/pypi/pypi/", timeout_seconds=60)
    env = {"SSC_HTTP_TIMEOUT": "120", "SSC_STOP_GRACE": "100"}
    log = tmp_path / "stderr.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "ssc_cli", "ingest", "pypi", "--names-from", str(names)],
            cwd=ssc.home,
            env=ssc.environment(env),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
        )
        _wait_until(lambda: fake_registry.in_flight >= 1, process, "a hanging fetch")
        process.send_signal(signal.SIGINT)
        _wait_until(lambda: "SIGINT received" in log.read_text(), process, "the first SIGINT")
        process.send_signal(signal.SIGINT)
        process.wait(timeout=50)  # the grace (100 s) is not waited for
    assert process.returncode == 130, log.read_text()
    assert "ssc: interrupted" in log.read_text()
    assert _runs(ssc) == [("ingest", "aborted")]


def _caught_signals(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no SigCgt in /proc/{pid}/status")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_every_command_handles_sigterm_itself(
    ssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry
) -> None:
    """PID 1 ignores a signal it has no handler for: a handler must be installed."""
    fake_registry.latency = 0.5
    process = ssc.popen("doctor", "--ecosystem", "pypi")
    _wait_until(lambda: fake_registry.in_flight >= 1, process, "the doctor's probe")
    assert _caught_signals(process.pid) & (1 << (signal.SIGTERM - 1))
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err


def _unshare_prefix() -> list[str] | None:
    """`unshare` arguments that start a command as PID 1 of a new PID namespace, if allowed."""
    binary = shutil.which("unshare")
    if binary is None:
        return None
    for extra in ([], ["--user", "--map-root-user"]):
        command = [binary, *extra, "--pid", "--fork", "--kill-child"]
        probe = subprocess.run(
            [*command, sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "1":
            return command
    return None


def test_sigterm_stops_an_ingest_running_as_pid_1(
    ssc: Ssc, app: pypi.PyPIApp, fake_registry: FakeRegistry
) -> None:
    prefix = _unshare_prefix()
    if prefix is None:
        pytest.skip("cannot create a PID namespace here (unshare); SigCgt is checked above")
    fake_registry.latency = 0.02
    launcher = subprocess.Popen(
        [*prefix, sys.executable, "-m", "ssc_cli", "ingest", "pypi", "--json"],
        cwd=ssc.home,
        env=ssc.environment({"SSC_WRITE_BATCH_SIZE": "5", "SSC_PYPI_CONCURRENCY": "2"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    children = Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children")
    _wait_until(lambda: children.read_text().strip() != "", launcher, "the PID-1 child")
    child = int(children.read_text().split()[0])
    nspid = next(
        line
        for line in Path(f"/proc/{child}/status").read_text().splitlines()
        if line.startswith("NSpid:")
    )
    assert nspid.split()[-1] == "1"  # ssc is PID 1 of its namespace
    _wait_until(lambda: _extracted(ssc) >= 10, launcher, "a few committed batches")
    import os

    os.kill(child, signal.SIGTERM)
    out, err = launcher.communicate(timeout=60)
    assert launcher.returncode == 143, err
    summary = json.loads(out)
    assert summary["stopped"] == "signal"
    assert _extracted(ssc) == summary["new_packages_ingested"] > 0


class _Archive:
    """A PackageArchive of n one-version NuGet packages, read without any network."""

    ecosystem = Ecosystem.NUGET

    def __init__(self, n: int) -> None:
        self.n = n

    def names(self) -> list[str]:
        return [f"p{i}" for i in range(self.n)]

    def package(self, name: str) -> PackageRecord | None:
        return PackageRecord(Ecosystem.NUGET, name, [VersionRecord(name="2.0.0")])

    def close(self) -> None:
        return None


def test_a_stop_ends_a_rebuild_between_chunks(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "graph.sqlite")
    store.migrate()
    try:
        archive = _Archive(10)
        records = [
            PackageRecord(Ecosystem.NUGET, n, [VersionRecord(name="1.0.0")])
            for n in archive.names()
        ]
        store.write_packages(records)
        stop = Stop()
        summary = rebuild(
            archive,
            store,
            RebuildOptions(batch_size=3),
            progress=lambda n, errors=0: stop.request(),  # a signal during the first chunk
            stop=stop,
        )
        assert summary.stopped == "signal" and summary.packages_rebuilt == 3
        versions = {
            row["purl"] for row in store.export(Ecosystem.NUGET) if row["type"] == "version"
        }
        assert {"pkg:nuget/p0@2.0.0", "pkg:nuget/p2@2.0.0", "pkg:nuget/p3@1.0.0"} <= versions
        [(status,)] = store._db.execute("SELECT status FROM runs").fetchall()
        assert status == "stopped"
    finally:
        store.close()


def test_a_phase_that_writes_nothing_is_cancelled_after_the_grace() -> None:
    async def main() -> bool:
        stop = Stop(grace=0.2)
        cancelled = False

        async def feed() -> str:
            nonlocal cancelled
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled = True
                raise
            return "read"

        asyncio.get_running_loop().call_later(0.1, stop.request)
        with pytest.raises(Stopped):
            await stop.bounded(feed())
        late = asyncio.sleep(0, "late")
        with pytest.raises(Stopped):  # stopped already: a phase does not even begin
            await stop.bounded(late)
        return cancelled

    assert asyncio.run(main()) is True


def test_a_phase_finishing_within_the_grace_keeps_its_result() -> None:
    async def main() -> str:
        stop = Stop(grace=30)

        async def feed() -> str:
            stop.request()  # the signal comes while the feed is being read
            await asyncio.sleep(0.05)
            return "read"

        return await stop.bounded(feed())

    assert asyncio.run(main()) == "read"


def test_a_stop_ends_a_classification_between_pages(tmp_path: Path) -> None:
    npm = Ecosystem.NPM
    store = SqliteStore(tmp_path / "graph.sqlite")
    store.migrate()
    try:
        store.replace_license_list("3.28.0", None, [LicenseRecord("MIT", "MIT", True, True)])
        store.write_packages(
            [
                PackageRecord(
                    npm,
                    f"p{i}",
                    [VersionRecord("1.0.0", requirements=[], licenses={"license": "MIT"})],
                    licenses={"license": "MIT"},
                )
                for i in range(10)
            ]
        )
        stop = Stop()
        summary = classify_stored(
            store, [npm], every=True, batch_size=4, progress=lambda n: stop.request(), stop=stop
        )
        assert summary.stopped == "signal" and summary.packages_classified == 4
        [(status,)] = store._db.execute("SELECT status FROM runs WHERE job = 'classify'").fetchall()
        assert status == "stopped"
        rest = classify_stored(store, [npm], batch_size=4)  # the next run finishes the job
        assert rest.stopped is None and rest.packages_classified == 6
    finally:
        store.close()
