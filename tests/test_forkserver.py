"""The fork server of the `ssc` runner gives what a new interpreter gives (tests/forkserver.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import REPO, Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry
from tests.forkserver import ForkServer


@pytest.fixture
def server() -> Iterator[ForkServer]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSC_")}
    forks = ForkServer({**env, "PYTHONPATH": str(REPO)}, cwd=REPO)
    try:
        yield forks
    finally:
        forks.stop()


def _fresh(ssc: Ssc, *args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "ssc_cli", *args],
        cwd=ssc.home,
        env=ssc.environment(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def _forked(
    server: ForkServer, ssc: Ssc, *args: str, env: dict[str, str | None] | None = None
) -> tuple[int, str, str]:
    done = server.run(list(args), ssc.home, ssc.environment(env), timeout=120)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("graph", "show", "--help"),
        ("graph", "show", "no-such-graph-package"),  # exit 2 or 5, with its error on stderr
        ("ingest", "pypi", "--concurrency", "0"),  # a usage error
        ("doctor",),
    ],
    ids=["help", "show-help", "show-missing", "usage-error", "doctor"],
)
def test_a_forked_run_prints_and_exits_as_a_new_interpreter_does(
    server: ForkServer, ssc: Ssc, args: tuple[str, ...]
) -> None:
    assert _forked(server, ssc, *args) == _fresh(ssc, *args)


def test_environment_and_working_directory_are_the_runs_own(
    server: ForkServer, ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    fake_registry.mount("pypi", pypi.synthetic(5, versions=2, deps=1))
    code, out, err = _forked(server, ssc, "ingest", "pypi", "--json")
    assert code == 0, err
    assert json.loads(out)["new_packages_ingested"] == 5
    # A setting given to one run is not seen by the next (the child's environment is its own).
    bad = {"SSC_HTTP_TIMEOUT": "not-a-duration"}
    assert _forked(server, ssc, "ingest", "pypi", env=bad)[0] == 2
    assert _forked(server, ssc, "ingest", "pypi", "--json")[0] == 0
    assert _forked(server, ssc, "graph", "export") == _fresh(ssc, "graph", "export")


def test_a_run_past_its_timeout_is_killed_and_the_server_serves_on(
    server: ForkServer, ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    fake_registry.mount("pypi", pypi.synthetic(3, versions=1, deps=0))
    fake_registry.latency = 30.0
    with pytest.raises(subprocess.TimeoutExpired):
        server.run(["ingest", "pypi"], ssc.home, ssc.environment(), timeout=2)
    fake_registry.latency = 0.0
    assert _forked(server, ssc, "--help")[0] == 0


def test_a_child_killed_by_a_signal_reports_it_as_subprocess_does(
    server: ForkServer, ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    fake_registry.mount("pypi", pypi.synthetic(3, versions=1, deps=0))
    fake_registry.latency = 30.0
    killed = server.run(
        ["ingest", "pypi"],
        ssc.home,
        ssc.environment(),
        timeout=120,
        on_start=lambda pid: os.kill(pid, signal.SIGKILL),
    )
    assert killed.returncode == -signal.SIGKILL
