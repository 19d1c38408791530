"""Sessions: tests, lint, typecheck (the default `nox`), bench, demo."""

from __future__ import annotations

import os
import shutil
import subprocess
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
    """The main job against the fake registries on 127.0.0.1: no internet needed."""
    session.install(".")
    work = Path(session.create_tmp()).resolve() / "demo"
    shutil.rmtree(work, ignore_errors=True)  # every demo starts from an empty graph
    work.mkdir(parents=True)
    # The session's Python: the fake registries import ssc_cli (Maven's index format) and packaging.
    python = str(Path(session.bin) / "python")
    fake = [python, "-m", "tests.fakeregistry", "--packages", "300"]
    server = subprocess.Popen(
        fake,
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    env_file = work / "fake.env"
    try:
        assert server.stdout is not None
        lines = []
        for line in server.stdout:  # the settings, as `ssc --env-file` reads them
            lines.append(line)
            if line.startswith("# END_OF_SETTINGS"):
                break
        env_file.write_text("".join(lines))
        env = {
            "SSC_DATA_DIR": str(work / "data"),
            "SSC_CACHE_DIR": str(work / "cache"),
            "SSC_GRAPH_URI": f"sqlite:///{work / 'graph.sqlite'}",
        }
        ssc = ["ssc", "--env-file", str(env_file)]
        session.log(f"fake registries' settings in {env_file}; graph in {work / 'graph.sqlite'}")
        session.run(*ssc, "ingest", "pypi", "--limit", "50", env=env)
        session.run(*ssc, "update", "pypi", env=env)
        session.run(*ssc, "graph", "show", "pypi", "pkg-00042", env=env)
        session.run(*ssc, "ingest", "npm", "--limit", "20", env=env)
        session.run(*ssc, "doctor", env=env)
        out = session.run(*ssc, "graph", "export", env=env, silent=True)
        exported = str(out).splitlines()
        session.log(f"graph export: {len(exported)} JSON lines, e.g.\n" + "\n".join(exported[:3]))
    finally:
        server.terminate()
        server.wait()
    ssc_bin = Path(session.bin) / "ssc"
    session.log(
        "Keep trying ssc against the fake registries (without such URL settings ssc talks to the"
        " public registries):\n"
        "  in one terminal, every ecosystem with 200 packages, serving until Ctrl-C; its stdout"
        " is the settings file:\n"
        f"    cd {REPO} && PYTHONPATH=. {python} -m tests.fakeregistry > {env_file}\n"
        "  in another, on the demo's graph:\n"
        f"    export SSC_DATA_DIR={env['SSC_DATA_DIR']} SSC_GRAPH_URI={env['SSC_GRAPH_URI']}\n"
        f"    {ssc_bin} --env-file {env_file} ingest cargo --limit 20\n"
        f"    {ssc_bin} --env-file {env_file} graph export --ecosystem cargo | head -3\n"
        "  faults (restart the fake with them), each a share of requests: --fault-429 0.1"
        " --retry-after 1, --fault-500 0.05, --fault-timeout, --fault-reset, --fault-truncated,"
        " --fault-malformed; --soak for the soak mix; --fault-ecosystems npm for one registry"
        " only; also --ecosystems pypi,npm --packages N --latency-ms MS --seed N (--help)"
    )
