"""Start-up time of `ssc`: this tree against an earlier commit (default d837a9b, before issue 8's
lazy imports), side by side.

Run: python benchmarks/bench_startup.py [--runs N] [--baseline COMMIT]
Wall time, median of N runs, of `python -m ssc_cli --help`, `graph show --help` and
`graph show pypi x` on a graph that does not exist (exit 2, nothing touches the network), and
the time `ssc ingest pypi --limit 1` takes from its start to its first request, which a server
on 127.0.0.1 (SSC_PYPI_URL) records (the child is then killed), plus the slowest imports of `python -X importtime -c "import ssc_cli.cli.app"`.
The baseline is checked out with `git worktree add` into a temporary directory.
"""

from __future__ import annotations

import argparse
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

COMMANDS: list[tuple[str, list[str], int]] = [
    ("ssc --help", ["--help"], 0),
    ("ssc graph show --help", ["graph", "show", "--help"], 0),
    ("ssc graph show pypi x (no graph: exit 2)", ["graph", "show", "pypi", "x"], 2),
]


def _environment(tree: Path, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSC_", "REDIS_"))}
    env.update(
        {
            "PYTHONPATH": str(tree),
            "SSC_DATA_DIR": str(work / "data"),
            "SSC_CACHE_DIR": str(work / "cache"),
            "SSC_GRAPH_URI": f"sqlite:///{work / 'no-graph.sqlite'}",
        }
    )
    return env


def _median_seconds(
    tree: Path, env: dict[str, str], args: list[str], expect: int, runs: int
) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "ssc_cli", *args], env=env, cwd=tree, capture_output=True
        )
        times.append(time.perf_counter() - started)
        if result.returncode != expect:
            raise SystemExit(
                f"{tree}: ssc {' '.join(args)} exited {result.returncode}, expected {expect}\n"
                f"{result.stderr.decode()[-2000:]}"
            )
    return statistics.median(times)


class _FirstRequest(http.server.BaseHTTPRequestHandler):
    """Notes when the first request arrives; answers 404 to everything."""

    arrivals: list[float] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.arrivals.append(time.perf_counter())
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _first_request_seconds(tree: Path, env: dict[str, str], runs: int) -> float:
    """Median time from spawning `ssc ingest pypi --limit 1` to its first request."""
    times = []
    for _ in range(runs):
        _FirstRequest.arrivals = []
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FirstRequest)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        child_env = {**env, "SSC_PYPI_URL": url, "SSC_HTTP_RATE_LIMIT": "off"}
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "ssc_cli", "ingest", "pypi", "--limit", "1"],
            env=child_env,
            cwd=tree,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            while not _FirstRequest.arrivals and child.poll() is None:
                if time.perf_counter() - started > 60:
                    raise SystemExit(f"{tree}: ssc ingest made no request in 60 s")
                time.sleep(0.001)
            if not _FirstRequest.arrivals:
                err = child.stderr.read().decode() if child.stderr else ""
                raise SystemExit(f"{tree}: ssc ingest exited before any request\n{err[-2000:]}")
            times.append(_FirstRequest.arrivals[0] - started)
        finally:
            child.kill()
            child.wait()
            server.shutdown()
            server.server_close()
    return statistics.median(times)


def _importtime(tree: Path, env: dict[str, str], top: int) -> list[tuple[str, float]]:
    """The `top` modules with the largest cumulative import time (ms), ssc_cli.cli.app first."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import ssc_cli.cli.app"],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((name.strip(), int(cumulative) / 1000))
    rows.sort(key=lambda row: -row[1])
    return rows[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline", default="d837a9b")
    parser.add_argument("--top", type=int, default=8, help="Slowest imports listed per tree.")
    args, _ignored = (
        parser.parse_known_args()
    )  # `nox -s bench -- …` passes its args to every script
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = work / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(base), args.baseline],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        try:
            trees = {f"{args.baseline} (before)": base, f"{head} (this tree)": REPO}
            timings: dict[str, list[float]] = {}
            imports: dict[str, list[tuple[str, float]]] = {}
            for label, tree in trees.items():
                env = _environment(tree, work / label.split()[0])
                _median_seconds(
                    tree, env, ["--help"], 0, 1
                )  # warm the .pyc files and the page cache
                timings[label] = [
                    _median_seconds(tree, env, argv, expect, args.runs)
                    for _title, argv, expect in COMMANDS
                ]
                timings[label].append(_first_request_seconds(tree, env, args.runs))
                imports[label] = _importtime(tree, env, args.top)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base)], cwd=REPO, check=False
            )
    (before, after) = trees
    print(f"ssc start-up, wall time, median of {args.runs} runs, {os.cpu_count()} CPUs\n")
    print(f"| command | {before} | {after} | ratio |")
    print("|---|---:|---:|---:|")
    titles = [title for title, _argv, _expect in COMMANDS]
    titles.append("ssc ingest pypi --limit 1: start to first request")
    for index, title in enumerate(titles):
        old, new = timings[before][index], timings[after][index]
        print(f"| `{title}` | {old:.3f} s | {new:.3f} s | {old / new:.1f}x |")
    for label in trees:
        print(f'\n`python -X importtime -c "import ssc_cli.cli.app"`, {label}, cumulative:\n')
        print("| module | ms |")
        print("|---|---:|")
        for name, ms in imports[label]:
            print(f"| {name} | {ms:.0f} |")


if __name__ == "__main__":
    main()
