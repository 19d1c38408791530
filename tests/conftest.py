"""Shared fixtures: a fake registry on 127.0.0.1 and a runner for the real `ssc` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakeregistry.server import FakeRegistry
from tests.forkserver import ForkServer
from tests.real_servers import _real_servers  # noqa: F401  (autouse: the real servers)

REPO = Path(__file__).resolve().parents[1]
# Genuine registry payloads (DESIGN.md, "Testing"): ../shared/fixtures/real beside the checkout,
# or wherever SSC_TEST_REAL_FIXTURES says (a worktree, a CI cache); absent, conformance tests skip.
SHARED_FIXTURES = Path(
    os.environ.get("SSC_TEST_REAL_FIXTURES") or REPO.parent / "shared" / "fixtures" / "real"
)

# Variables of the developer's shell that must not leak into the command under test.
_LEAKY_PREFIXES = ("SSC_", "GRAPH_DB_", "VULN_DB_", "REDIS_")


# The fields every --json line carries besides its own (docs/cli.md; tests/test_run_records.py).
RUN_RECORD = ("command", "ecosystem", "started_at", "finished_at", "ssc_version", "exit_code")


def without_run_record(line: dict[str, Any]) -> dict[str, Any]:
    """A --json line's own fields: those of the run record dropped."""
    return {k: v for k, v in line.items() if k not in RUN_RECORD}


def real_fixtures(ecosystem: str) -> list[Path]:
    """Genuine payloads of ../shared/fixtures/real/<ecosystem> (empty when the folder is absent)."""
    folder = SHARED_FIXTURES / ecosystem
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def require_real_fixtures(ecosystem: str) -> None:
    """Skip when ../shared is absent, except in CI where that is a failure."""
    if not real_fixtures(ecosystem):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED_FIXTURES / ecosystem} is missing in CI")
        pytest.skip(f"{SHARED_FIXTURES / ecosystem} not present")


# One fork server per test process, started on the first run (tests/forkserver.py).
_FORK_SERVER: ForkServer | None = None


def _fork_server() -> ForkServer | None:
    global _FORK_SERVER
    if os.environ.get("SSC_TEST_FORKSERVER") == "0":
        return None
    if _FORK_SERVER is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY_PREFIXES)}
        _FORK_SERVER = ForkServer({**env, "PYTHONPATH": str(REPO)}, cwd=REPO)
    return _FORK_SERVER


@pytest.fixture(scope="session", autouse=True)
def _stop_fork_server() -> Iterator[None]:
    yield
    if _FORK_SERVER is not None:
        _FORK_SERVER.stop()


@dataclass
class Ssc:
    """Runs `python -m ssc_cli` as a user would, with a private data dir and graph."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def graph_uri(self) -> str:
        return self.env["SSC_GRAPH_URI"]

    def environment(self, extra: dict[str, str | None] | None = None) -> dict[str, str]:
        """The child's environment; a None value in extra removes that variable."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY_PREFIXES)}
        base["PYTHONPATH"] = str(REPO)
        base.update(self.env)
        for key, value in (extra or {}).items():
            if value is None:
                base.pop(key, None)
            else:
                base[key] = value
        return base

    def __call__(
        self,
        *args: str,
        expect: int | None = 0,
        env: dict[str, str | None] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        server = _fork_server()
        if server is not None:
            result = server.run(list(args), self.home, self.environment(env), timeout)
        else:
            result = subprocess.run(
                [sys.executable, "-m", "ssc_cli", *args],
                cwd=self.home,
                env=self.environment(env),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        if expect is not None and result.returncode != expect:
            raise AssertionError(
                f"ssc {' '.join(args)} exited {result.returncode}, expected {expect}\n"
                f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
            )
        return result

    def popen(self, *args: str, env: dict[str, str | None] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "ssc_cli", *args],
            cwd=self.home,
            env=self.environment(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def json(
        self, *args: str, expect: int | None = 0, env: dict[str, str | None] | None = None
    ) -> Any:
        """Run with --json and parse the summary."""
        return json.loads(self(*args, "--json", expect=expect, env=env).stdout)

    def export(self, *args: str, env: dict[str, str | None] | None = None) -> list[dict[str, Any]]:
        out = self("graph", "export", *args, env=env).stdout
        return [json.loads(line) for line in out.splitlines() if line]

    def with_graph(self, name: str) -> Ssc:
        """The same runner writing to another graph file (to compare two runs)."""
        other = Ssc(self.home, dict(self.env))
        other.env["SSC_GRAPH_URI"] = f"sqlite:///{self.home / name}"
        other.env["SSC_DATA_DIR"] = str(self.home / f"data-{name}")
        return other


@pytest.fixture
def fake_registry() -> Iterator[FakeRegistry]:
    server = FakeRegistry().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ssc(tmp_path: Path, fake_registry: FakeRegistry) -> Ssc:
    """A runner whose registries all point at the fake registry (mount apps under their names)."""
    env = {
        "SSC_DATA_DIR": str(tmp_path / "data"),
        "SSC_CACHE_DIR": str(tmp_path / "cache"),
        "SSC_GRAPH_URI": f"sqlite:///{tmp_path / 'graph.sqlite'}",
        "SSC_HTTP_RATE_LIMIT": "off",
        "SSC_HTTP_BACKOFF_BASE": "0.01",
        "SSC_HTTP_BACKOFF_MAX": "0.2",
        "SSC_HTTP_TIMEOUT": "5",
        "SSC_USER_AGENT": "ssc-tests/0 (+tests)",
        "SSC_PYPI_URL": fake_registry.url("pypi"),
        "SSC_NPM_URL": fake_registry.url("npm"),
        # As replicate.npmjs.com/registry: the feed below it, update_seq at the root above.
        "SSC_NPM_REPLICATE_URL": fake_registry.url("npm-replicate") + "/registry",
        "SSC_MAVEN_URL": fake_registry.url("maven"),
        "SSC_NUGET_URL": fake_registry.url("nuget") + "/v3/index.json",
        "SSC_CRATES_INDEX_URL": fake_registry.url("crates-index"),
        "SSC_CRATES_STATIC_URL": fake_registry.url("crates-static"),
        "SSC_CRATES_API_URL": fake_registry.url("crates-api"),
        "SSC_RUBYGEMS_URL": fake_registry.url("rubygems"),
    }
    return Ssc(tmp_path, env)
