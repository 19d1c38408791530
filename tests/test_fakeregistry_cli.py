"""`python -m tests.fakeregistry`: its stdout is an env file ssc reads, its faults are the flags'."""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, Ssc
from tests.fakeregistry import cli

# Every setting the `ssc` fixture points at its in-process fake: here the env file must do it.
_FROM_THE_FILE = ("SSC_HTTP_RATE_LIMIT", *(n for s in cli.SETTINGS.values() for n, _ in s))


class Served:
    """A running `python -m tests.fakeregistry` and the env file it printed."""

    def __init__(self, process: subprocess.Popen[str], env_file: Path) -> None:
        self.process = process
        self.env_file = env_file
        self.settings = cli.read_settings(io.StringIO(env_file.read_text()))

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Send sig; the exit code and stderr (the process must end within 10 s)."""
        self.process.send_signal(sig)
        _, err = self.process.communicate(timeout=10)
        return self.process.returncode, err


def serve(tmp_path: Path, *args: str) -> Served:
    """Start the fake with args and save the settings it prints (within 30 s) to fake.env."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakeregistry", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.strip() == cli.END_OF_SETTINGS:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)
    if not lines or lines[-1].strip() != cli.END_OF_SETTINGS:
        process.kill()
        _, err = process.communicate(timeout=10)
        raise AssertionError(f"no settings from the fake registry: {lines}\n{err}")
    env_file = tmp_path / "fake.env"
    env_file.write_text("".join(lines))
    return Served(process, env_file)


@pytest.fixture
def file_only(ssc: Ssc) -> Ssc:
    """The `ssc` runner without the registry settings: they come from --env-file alone (the
    environment would win over the file). Backoff and timeout stay small, as the fixture's."""
    ssc.env = {k: v for k, v in ssc.env.items() if k not in _FROM_THE_FILE}
    return ssc


@pytest.fixture
def two_with_npm_broken(tmp_path: Path) -> Iterator[Served]:
    served = serve(
        tmp_path,
        "--ecosystems",
        "pypi,npm",
        "--packages",
        "20",
        "--fault-500",
        "1.0",
        "--fault-ecosystems",
        "npm",
    )
    try:
        yield served
    finally:
        if served.process.poll() is None:
            served.process.kill()
            served.process.communicate(timeout=10)


def test_the_printed_settings_drive_ssc_and_sigterm_stops_the_fake(
    two_with_npm_broken: Served, file_only: Ssc
) -> None:
    served = two_with_npm_broken
    text = served.env_file.read_text()
    assert text.startswith("# ssc settings for the fake registry at http://127.0.0.1:")
    assert served.settings["SSC_HTTP_RATE_LIMIT"] == "off"
    assert set(served.settings) == set(_FROM_THE_FILE)
    assert all(v.startswith("http://127.0.0.1:") for k, v in served.settings.items() if "URL" in k)

    summary = file_only.json("--env-file", str(served.env_file), "ingest", "pypi", "--limit", "5")
    assert summary["new_packages_ingested"] == 5 and summary["errors"] == 0

    # Every npm request answers 500: the change feed fails after its retries, exit 4.
    broken = file_only.json(
        "--env-file", str(served.env_file), "ingest", "npm", "--limit", "5", expect=4
    )
    assert broken["exit_code"] == 4 and "HTTP 500" in broken["error"]
    assert "npm-replicate" in broken["error"]

    # An ecosystem not served answers 404 from the fake, never reaching its public registry.
    absent = file_only.json(
        "--env-file", str(served.env_file), "ingest", "maven", "--limit", "5", expect=4
    )
    assert "127.0.0.1" in absent["error"] and "/not-served/maven/" in absent["error"]

    code, err = served.stop(signal.SIGTERM)
    assert code == 0, err
    assert "fake registry stopped" in err


def test_every_ecosystem_by_default_and_sigint_stops_it(tmp_path: Path, file_only: Ssc) -> None:
    served = serve(tmp_path, "--packages", "5")
    try:
        assert not any("not-served" in v for v in served.settings.values())
        checks = file_only.json("--env-file", str(served.env_file), "doctor")
        registries = [c for c in checks if c["check"].startswith("registry")]
        assert {c["check"] for c in registries} == {f"registry {e}" for e in cli.ECOSYSTEMS}
        assert all(c["ok"] for c in registries), registries
        base = served.settings["SSC_PYPI_URL"].removesuffix("/pypi")
        assert all(c["target"].startswith(base + "/") for c in registries), registries
    finally:
        code, err = served.stop(signal.SIGINT)
    assert code == 0, err


def _faults(*argv: str) -> argparse.Namespace:
    return cli.parser().parse_args(list(argv))


def test_fault_flags_make_the_faults_of_server_py() -> None:
    soak = cli.faults_from(_faults("--soak", "--seed", "3", "--fault-500", "0.2"))
    assert (soak.rate_429, soak.rate_500, soak.rate_reset) == (0.10, 0.2, 0.01)
    assert soak.seed == 3 and soak.only is None

    one = cli.faults_from(
        _faults("--fault-429", "1", "--retry-after", "7", "--fault-ecosystems", "cargo")
    )
    assert one.retry_after == 7
    assert one.draw("/crates-index/cr/at/crate-00001") == "429"
    assert one.draw("/crates-api/crates/x") == "429"
    assert one.draw("/pypi/simple/") is None and one.draw("/crates-indexes/x") is None

    with pytest.raises(ValueError, match="add up to 1.5"):
        cli.faults_from(_faults("--fault-500", "0.9", "--fault-reset", "0.6"))
    with pytest.raises(SystemExit):
        _faults("--fault-timeout", "1.5")
    with pytest.raises(SystemExit):
        _faults("--ecosystems", "pypi,cocoapods")
    assert _faults("--ecosystems", "crates,gem,pypi").ecosystems == ["cargo", "rubygems", "pypi"]


def test_timeout_faults_come_with_an_ssc_timeout_below_the_stall(tmp_path: Path) -> None:
    served = serve(
        tmp_path, "--ecosystems", "pypi", "--packages", "1", "--fault-timeout", "0.5",
        "--timeout-seconds", "3",
    )  # fmt: skip
    try:
        assert served.settings["SSC_HTTP_TIMEOUT"] == "1.5"
    finally:
        served.stop()
