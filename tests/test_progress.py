"""Progress off a terminal: a `ssc: progress ...` key=value line on stderr every
SSC_PROGRESS_INTERVAL seconds, from a timer thread; none on a terminal (the rich bar) or with -q
(issue 8)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ssc_cli.errors import ConfigError
from ssc_cli.models import Ecosystem, PackageRecord, VersionRecord
from ssc_cli.progress import Counter, ProgressLines, progress_line
from ssc_cli.settings import load_settings
from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry, Faults

# The documented form (docs/cli.md, Progress).
LINE = re.compile(r"^ssc: progress (?P<what>[^:]+): (?P<fields>(?:[a-z]+=\S+)(?: [a-z]+=\S+)*)$")
VALUE = {
    "done": r"\d+",
    "total": r"\d+",
    "rate": r"\d+\.\d/s",
    "errors": r"\d+",
    "eta": r"\d+s",
    "elapsed": r"\d+s",
}


def parse(stderr: str) -> list[tuple[str, dict[str, str]]]:
    """Every progress line of a run's stderr, checked against the documented form."""
    found = []
    for line in stderr.splitlines():
        if not line.startswith("ssc: progress"):
            continue
        match = LINE.match(line)
        assert match, f"not in the documented form: {line!r}"
        fields = dict(pair.split("=", 1) for pair in match["fields"].split(" "))
        assert list(fields) == [k for k in VALUE if k in fields], line  # documented order
        for key, value in fields.items():
            assert re.fullmatch(VALUE[key], value), (key, line)
        found.append((match["what"], fields))
    return found


# -- the line -------------------------------------------------------------------------------


def test_line_with_a_total_has_rate_errors_and_eta() -> None:
    line = progress_line("ingest pypi", 1200, 5000, 2, 29.06)
    assert line == (
        "ssc: progress ingest pypi: done=1200 total=5000 rate=41.3/s errors=2 eta=93s elapsed=29s"
    )
    [(what, fields)] = parse(line)
    assert what == "ingest pypi"


def test_line_without_a_total_has_no_total_and_no_eta() -> None:
    line = progress_line("update npm", 10, None, 0, 4.0)
    assert line == "ssc: progress update npm: done=10 rate=2.5/s errors=0 elapsed=4s"


def test_eta_needs_a_rate_and_never_goes_negative() -> None:
    nothing_yet = progress_line("rebuild nuget", 0, 100, 0, 3.0)
    assert "eta=" not in nothing_yet and "rate=0.0/s" in nothing_yet
    assert "eta=" not in progress_line("classify", 0, 100, 0, 0.0)
    assert "eta=0s" in progress_line("classify", 120, 100, 0, 10.0)  # a total passed
    assert "eta=1s" in progress_line("classify", 99, 100, 0, 99.0)  # rounds up, not to 0


def test_counter_sums_done_and_errors_against_its_clock() -> None:
    now = [100.0]
    counter = Counter("vulns sync", None, clock=lambda: now[0])
    counter.advance(3)
    counter.advance(2, errors=1)
    now[0] = 110.0
    assert counter.line() == "ssc: progress vulns sync: done=5 rate=0.5/s errors=1 elapsed=10s"


def test_lines_come_from_a_timer_even_when_the_loop_never_advances() -> None:
    lines: list[str] = []
    progress = ProgressLines(Counter("drain-queue", None), 0.05, lines.append)
    with progress as advance:
        # A loop blocked on a slow registry: no advance at all, and lines all the same.
        _wait_for(lambda: len(lines) >= 3)
        assert all("done=0" in line for line in lines)
        advance(4, errors=1)
        _wait_for(lambda: "done=4" in lines[-1])
        assert "errors=1" in lines[-1]
    assert not progress._thread.is_alive()  # closed: the thread is gone, no more lines


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


@pytest.mark.parametrize(("text", "seconds"), [("1", 1.0), ("0.5", 0.5), ("0", 0.0), ("OFF", 0.0)])
def test_interval_setting(monkeypatch: pytest.MonkeyPatch, text: str, seconds: float) -> None:
    monkeypatch.setenv("SSC_PROGRESS_INTERVAL", text)
    assert load_settings(None).progress_interval == seconds


@pytest.mark.parametrize("text", ["-1", "soon"])
def test_a_bad_interval_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv("SSC_PROGRESS_INTERVAL", text)
    with pytest.raises(ConfigError, match="SSC_PROGRESS_INTERVAL"):
        load_settings(None)


def test_the_default_interval_is_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSC_PROGRESS_INTERVAL", raising=False)
    assert load_settings(None).progress_interval == 60.0


# -- real runs ------------------------------------------------------------------------------

EVERY_SECOND = {"SSC_PROGRESS_INTERVAL": "1"}


@pytest.fixture
def slow_pypi(fake_registry: FakeRegistry) -> FakeRegistry:
    """30 packages, one failing with a 500, each request 0.15 s: a run of several seconds."""
    fake_registry.mount("pypi", pypi.synthetic(30, versions=1, deps=1))
    fake_registry.faults = Faults(always={r"/pypi/pkg-00002/": 500})
    fake_registry.latency = 0.15
    return fake_registry


INGEST = ("ingest", "pypi", "--limit", "20", "--no-follow-deps", "--concurrency", "1")


def test_a_non_terminal_run_prints_progress_lines_with_every_field(
    ssc: Ssc, slow_pypi: FakeRegistry
) -> None:
    started = time.monotonic()
    result = ssc(*INGEST, expect=1, env=EVERY_SECOND)
    took = time.monotonic() - started
    lines = parse(result.stderr)
    assert took > 3 and len(lines) >= 2, result.stderr
    assert {what for what, _ in lines} == {"ingest pypi"}
    for _, fields in lines:
        assert fields["total"] == "20" and set(fields) >= {"done", "rate", "errors", "elapsed"}
    done = [int(f["done"]) for _, f in lines]
    assert done == sorted(done) and done[-1] > 0
    assert "eta" in lines[-1][1]
    # The failing package is counted as soon as it fails (it is the third of twenty).
    assert int(lines[-1][1]["errors"]) == 1
    assert float(lines[-1][1]["rate"].removesuffix("/s")) > 0
    # Progress lines come before the summary line, which ends the run as before.
    assert result.stderr.splitlines()[-2].startswith("ingest pypi: ")
    assert "failed pkg-00002" in result.stderr.splitlines()[-1]


def test_a_run_blocked_on_a_slow_registry_still_reports(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    fake_registry.mount("pypi", pypi.synthetic(3, versions=1, deps=0))
    fake_registry.latency = 1.5  # the listing and the one fetch: three seconds, nothing done
    result = ssc("ingest", "pypi", "--limit", "1", "--no-follow-deps", env=EVERY_SECOND)
    lines = parse(result.stderr)
    assert lines and lines[0][1]["done"] == "0", result.stderr
    assert "eta" not in lines[0][1]  # no rate yet, so no ETA


@pytest.mark.parametrize(
    ("args", "env"),
    [(("-q",), EVERY_SECOND), ((), {"SSC_PROGRESS_INTERVAL": "off"})],
    ids=["quiet", "off"],
)
def test_quiet_or_off_prints_no_progress_line(
    ssc: Ssc, slow_pypi: FakeRegistry, args: tuple[str, ...], env: dict[str, str | None]
) -> None:
    result = ssc(*args, *INGEST, expect=1, env=env)
    assert "ssc: progress" not in result.stderr
    assert "progress" not in result.stderr


def _run_with_terminal_stderr(ssc: Ssc, *args: str, env: dict[str, str | None]) -> tuple[int, str]:
    """Run ssc with stderr on a pseudo-terminal (stdout a pipe); what the terminal showed."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "ssc_cli", *args],
        cwd=ssc.home,
        env=ssc.environment(env),
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
    )
    os.close(slave)
    shown = bytearray()

    def read() -> None:  # drained as it comes: a full pty buffer would block the child
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        process.communicate(timeout=120)
    finally:
        reader.join(timeout=10)
        os.close(master)
    return process.returncode, shown.decode("utf-8", "replace")


def test_a_terminal_gets_the_bar_and_no_progress_line(ssc: Ssc, slow_pypi: FakeRegistry) -> None:
    code, shown = _run_with_terminal_stderr(ssc, *INGEST, env=EVERY_SECOND)
    assert code == 1, shown
    assert "ingest pypi: " in shown  # the summary line reached the terminal
    assert "ssc: progress" not in shown
    assert "done=" not in shown and "rate=" not in shown
    assert "\x1b[" in shown and "/20" in shown  # rich drew its bar (20 to do)


def test_vulns_sync_counts_every_record_read_and_invalid_ones_as_errors(
    tmp_path: Path,
) -> None:
    """Every OSV record read advances the progress, a bad one as an error (all sources)."""
    from ssc_cli.vulns.osv import OsvStore
    from ssc_cli.vulns.sync import Item, Loader, SyncSummary, load_items

    counter = Counter("vulns sync", None)
    store = OsvStore(tmp_path / "osv.sqlite")
    try:
        good = {
            "id": "GHSA-0000-0000-0001",
            "modified": "2024-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"}}],
        }
        items = [Item("a.json", good), Item("b.json", error="truncated"), Item("c.json", {})]
        load_items(Loader(store, SyncSummary(), progress=counter.advance), items)
    finally:
        store.close()
    assert (counter.done, counter.errors) == (3, 2)


class _DamagedArchive:
    """A NuGet archive of five packages whose files for p1 and p3 cannot be read."""

    ecosystem = Ecosystem.NUGET

    def names(self) -> list[str]:
        return [f"p{i}" for i in range(5)]

    def package(self, name: str) -> PackageRecord | None:
        if name in ("p1", "p3"):
            raise ValueError("truncated leaf")
        return PackageRecord(Ecosystem.NUGET, name, [VersionRecord(name="2.0.0")])

    def close(self) -> None:
        return None


def test_rebuild_counts_the_packages_it_could_not_rebuild_as_errors(tmp_path: Path) -> None:
    from ssc_cli.graph.sqlite import SqliteStore
    from ssc_cli.pipeline.rebuild import RebuildOptions, rebuild

    store = SqliteStore(tmp_path / "graph.sqlite")
    try:
        store.migrate()
        archive = _DamagedArchive()
        store.write_packages(
            [
                PackageRecord(Ecosystem.NUGET, n, [VersionRecord(name="1.0")])
                for n in archive.names()
            ]
        )
        counter = Counter("rebuild nuget", 5)
        summary = rebuild(archive, store, RebuildOptions(batch_size=2), progress=counter.advance)
    finally:
        store.close()
    assert summary.errors == 2
    assert (counter.done, counter.errors) == (5, 2)
