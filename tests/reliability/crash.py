"""Crash helpers: run ssc to a planted fault or a seeded random SIGKILL, and read what it left.

Shared by tests/reliability/test_crash.py and benchmarks/bench_crash.py.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from tests.conftest import Ssc


def _planted(
    fault: str, env: dict[str, str | None] | None, trace: Path | None
) -> dict[str, str | None]:
    planted: dict[str, str | None] = {**(env or {}), "SSC_TEST_FAULT": fault}
    if trace is not None:
        planted["SSC_TEST_TRACE"] = str(trace)
    return planted


def faulted(
    ssc: Ssc,
    fault: str,
    *args: str,
    env: dict[str, str | None] | None = None,
    trace: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `ssc ARGS` with SSC_TEST_FAULT=fault planted (tests/reliability/faultpoints.py),
    its events appended to trace when given."""
    return subprocess.run(
        [sys.executable, "-m", "tests.reliability.faultpoints", *args],
        cwd=ssc.home,
        env=ssc.environment(_planted(fault, env, trace)),
        capture_output=True,
        text=True,
        timeout=300,
    )


def killed_after(
    ssc: Ssc,
    seconds: float,
    *args: str,
    env: dict[str, str | None] | None = None,
    trace: Path | None = None,
) -> int:
    """Start `ssc ARGS`, SIGKILL it after seconds (unless it ended first); its exit code.
    With trace, it runs under the fault launcher planting nothing, its events traced there."""
    if trace is None:
        process = ssc.popen(*args, env=env)
    else:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.faultpoints", *args],
            cwd=ssc.home,
            env=ssc.environment(_planted("none", env, trace)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
    process.communicate()
    return process.returncode


INSIDE_A_WRITE = "inside a write"
AFTER_A_COMMIT = "after a write committed"
AFTER_A_CURSOR_SAVE = "after a cursor save"
ELSEWHERE = "elsewhere"


def events(trace: Path) -> list[str]:
    """The events a traced run appended (tests/reliability/faultpoints.py), in order."""
    return trace.read_text().split() if trace.is_file() else []


def landed(trace: Path) -> str:
    """Where a traced run was when it died: inside a `write_packages` call, right after one
    committed, right after a cursor save or an XACK (nothing traced since), or elsewhere (start-up,
    before the first write)."""
    last = events(trace)[-1:] or [""]
    if last[0] == "write+":
        return INSIDE_A_WRITE
    if last[0] == "write-":
        return AFTER_A_COMMIT
    if last[0] in {"cursor", "ack"}:
        return AFTER_A_CURSOR_SAVE
    return ELSEWHERE


def entry_key(entry_id: str) -> tuple[int, int]:
    """A Redis stream entry id (`<ms>-<seq>`) as a tuple that orders as Redis does."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def graph_path(ssc: Ssc) -> Path:
    return Path(ssc.graph_uri.removeprefix("sqlite:///"))


def cursor(ssc: Ssc, ecosystem: str, key: str = "update") -> dict[str, Any] | None:
    """The cursor as committed in the graph file (None when none was saved)."""
    path = graph_path(ssc)
    if not path.is_file():
        return None
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        try:
            row = db.execute(
                "SELECT value FROM cursors WHERE ecosystem = ? AND key = ?", (ecosystem, key)
            ).fetchone()
        except sqlite3.OperationalError:
            return None  # killed before the schema was created
    return None if row is None else dict(json.loads(row[0]))


def integrity(ssc: Ssc) -> str:
    with closing(sqlite3.connect(f"{graph_path(ssc).as_uri()}?mode=ro", uri=True)) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def copy_graph(source: Ssc, target: Ssc) -> None:
    """A consistent copy of source's graph file for target (the SQLite backup API: WAL too)."""
    with (
        closing(sqlite3.connect(graph_path(source))) as src,
        closing(sqlite3.connect(graph_path(target))) as dst,
    ):
        src.backup(dst)


def whole(partial: list[dict[str, Any]], reference: list[dict[str, Any]]) -> list[str]:
    """Packages of partial that are extracted but whose versions or edges differ from reference."""

    def by_package(export: list[dict[str, Any]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for item in export:
            if item["type"] == "version":
                out.setdefault(str(item["package"]), []).append(json.dumps(item, sort_keys=True))
            elif item["type"] == "requires":
                package = str(item["from"]).split("@", 1)[0]
                out.setdefault(package, []).append(json.dumps(item, sort_keys=True))
        return {k: sorted(v) for k, v in out.items()}

    done = {
        str(i["purl"]) for i in partial if i["type"] == "package" and i["status"] == "extracted"
    }
    got, want = by_package(partial), by_package(reference)
    return sorted(p for p in done if got.get(p, []) != want.get(p, []))


def timed(ssc: Ssc, *args: str) -> float:
    started = time.monotonic()
    ssc(*args)
    return time.monotonic() - started
