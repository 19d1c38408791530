"""Sessions: tests, lint, typecheck (the default `nox`), bench, demo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

REPO = Path(__file__).parent
PYTHON = ["3.11", "3.12", "3.13"] if os.environ.get("SSC_ALL_PYTHONS") else None


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite (starts its own fake registries and redis-server)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.5")
    session.run("ruff", "check", "ssc_cli", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "ssc_cli", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".", "mypy>=1.10")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmarks/bench_*.py; figures and ratios are printed as Markdown."""
    session.install("-e", ".[test]")
    for script in sorted((REPO / "benchmarks").glob("bench_*.py")):
        session.log(f"== {script.name}")
        session.run("python", str(script), *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job against a fake PyPI on 127.0.0.1: no internet needed."""
    session.install(".")
    work = Path(session.create_tmp()) / "demo"
    shutil.rmtree(work, ignore_errors=True)  # every demo starts from an empty graph
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakeregistry", "--pypi", "300"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip().split("=", 1)[1]
        env = {
            "SSC_PYPI_URL": url,
            "SSC_DATA_DIR": str(work / "data"),
            "SSC_CACHE_DIR": str(work / "cache"),
            "SSC_GRAPH_URI": f"sqlite:///{work / 'graph.sqlite'}",
            "SSC_HTTP_RATE_LIMIT": "off",
        }
        session.log(f"fake PyPI at {url}; graph in {work / 'graph.sqlite'}")
        session.run("ssc", "ingest", "pypi", "--limit", "50", env=env)
        session.run("ssc", "update", "pypi", env=env)
        session.run("ssc", "graph", "show", "pypi", "pkg-00042", env=env)
        session.run("ssc", "doctor", "--ecosystem", "pypi", env=env)
        out = session.run("ssc", "graph", "export", env=env, silent=True)
        lines = str(out).splitlines()
        session.log(f"graph export: {len(lines)} JSON lines, e.g.\n" + "\n".join(lines[:3]))
    finally:
        server.terminate()
        server.wait()
