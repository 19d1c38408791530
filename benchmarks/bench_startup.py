"""Start-up time of `ssc`: this tree against an earlier commit (default d837a9b, before issue 8's
lazy imports), side by side.

Run: python benchmarks/bench_startup.py [--runs N] [--baseline COMMIT] [--no-bytecode]
Wall time of `python -m ssc_cli --help`, `graph show --help` and `graph show pypi x` on a graph
that does not exist (exit 2, nothing touches the network), and the time `ssc ingest pypi --limit 1`
takes from its start to its first request, which a server on 127.0.0.1 (SSC_PYPI_URL) records
(the child is then killed). The two trees take turns run by run, so a machine that others load
slows both alike; the median and the fastest of N runs are reported. Beside each, the import
time of that command line (`python -X importtime`, the sum of every module's own time; for the
ingest, of what it loaded before its first request), and the slowest imports of
`python -X importtime -c "import ssc_cli.cli.app"`.
The baseline is checked out with `git worktree add` into a temporary directory. Both trees run
from .pyc files, as an installed ssc does (pip compiles at install, the image runs compileall):
a warm-up run of each command writes them into the temporary directory (PYTHONPYCACHEPREFIX),
whatever PYTHONDONTWRITEBYTECODE the caller's shell sets; `--no-bytecode` measures with that
variable set instead, compiling ssc's sources in every run.
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
from collections.abc import Callable
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

COMMANDS: list[tuple[str, list[str], int]] = [
    ("ssc --help", ["--help"], 0),
    ("ssc graph show --help", ["graph", "show", "--help"], 0),
    ("ssc graph show pypi x (no graph: exit 2)", ["graph", "show", "pypi", "x"], 2),
]


def _environment(tree: Path, work: Path, bytecode: bool) -> dict[str, str]:
    """The children's environment. bytecode: each tree's .pyc files (and the libraries') are
    written by the warm-up runs under work/pycache and read from there, as an installed ssc reads
    those pip or the image's compileall wrote; without it, PYTHONDONTWRITEBYTECODE=1: a tree
    without current __pycache__ files (a fresh checkout) compiles ssc's modules in every run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSC_", "REDIS_", "PYTHONPYC"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(
        {
            "PYTHONPATH": str(tree),
            "SSC_DATA_DIR": str(work / "data"),
            "SSC_CACHE_DIR": str(work / "cache"),
            "SSC_GRAPH_URI": f"sqlite:///{work / 'no-graph.sqlite'}",
        }
    )
    return env


def _run_seconds(
    tree: Path, env: dict[str, str], args: list[str], expect: int, importtime: bool = False
) -> tuple[float, str]:
    """Wall time of one `python -m ssc_cli ARGS`, and its stderr."""
    flags = ["-X", "importtime"] if importtime else []
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *flags, "-m", "ssc_cli", *args], env=env, cwd=tree, capture_output=True
    )
    elapsed = time.perf_counter() - started
    if result.returncode != expect:
        raise SystemExit(
            f"{tree}: ssc {' '.join(args)} exited {result.returncode}, expected {expect}\n"
            f"{result.stderr.decode()[-2000:]}"
        )
    return elapsed, result.stderr.decode()


def _import_ms(stderr: str) -> float:
    """The sum of every module's own import time (ms) in `-X importtime` output."""
    total = 0
    for line in stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            total += int(line.removeprefix("import time:").split("|")[0])
    return total / 1000


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


def _first_request_seconds(
    tree: Path, env: dict[str, str], importtime: bool = False
) -> tuple[float, str]:
    """Time from spawning `ssc ingest pypi --limit 1` to its first request, and its stderr up
    to then."""
    _FirstRequest.arrivals = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FirstRequest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    # Its own graph: the one of `graph show pypi x` must stay absent (exit 2).
    graph = env["SSC_GRAPH_URI"].replace("no-graph.sqlite", "ingest.sqlite")
    child_env = {**env, "SSC_PYPI_URL": url, "SSC_HTTP_RATE_LIMIT": "off", "SSC_GRAPH_URI": graph}
    flags = ["-X", "importtime"] if importtime else []
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, *flags, "-m", "ssc_cli", "ingest", "pypi", "--limit", "1"],
            env=child_env,
            cwd=tree,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            while not _FirstRequest.arrivals and child.poll() is None:
                if time.perf_counter() - started > 60:
                    raise SystemExit(f"{tree}: ssc ingest made no request in 60 s")
                time.sleep(0.001)
            if not _FirstRequest.arrivals:
                stderr.seek(0)
                err = stderr.read().decode()
                raise SystemExit(f"{tree}: ssc ingest exited before any request\n{err[-2000:]}")
            elapsed = _FirstRequest.arrivals[0] - started
        finally:
            child.kill()
            child.wait()
            server.shutdown()
            server.server_close()
        stderr.seek(0)
        return elapsed, stderr.read().decode()


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
    parser.add_argument(
        "--no-bytecode",
        dest="bytecode",
        action="store_false",
        help="Children run with PYTHONDONTWRITEBYTECODE=1 and no .pyc cache of their own (ssc's "
        "modules compiled in every run where the tree has no current __pycache__).",
    )
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
            envs = {
                label: _environment(tree, work / label.split()[0], args.bytecode)
                for label, tree in trees.items()
            }
            # One run of a command: its wall time and its stderr (with or without -X importtime).
            jobs: list[Callable[[Path, dict[str, str], bool], tuple[float, str]]] = [
                partial(_command, argv, expect) for _title, argv, expect in COMMANDS
            ]
            jobs.append(_first_request_seconds)
            for label, tree in trees.items():  # write the .pyc files, warm the page cache
                for job in jobs:
                    job(tree, envs[label], False)
            timings: dict[str, list[list[float]]] = {label: [[] for _ in jobs] for label in trees}
            for run in range(args.runs):  # the trees take turns, first one then the other
                order = list(trees) if run % 2 == 0 else list(reversed(trees))
                for index, job in enumerate(jobs):
                    for label in order:
                        seconds, _stderr = job(trees[label], envs[label], False)
                        timings[label][index].append(seconds)
            import_ms = {
                label: [
                    min(_import_ms(job(tree, envs[label], True)[1]) for _ in range(3))
                    for job in jobs
                ]
                for label, tree in trees.items()
            }
            imports = {
                label: _importtime(tree, envs[label], args.top) for label, tree in trees.items()
            }
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base)], cwd=REPO, check=False
            )
    (before, after) = trees
    print(
        f"ssc start-up, wall time: median (fastest) of {args.runs} runs, the trees taking turns; "
        f"{'from .pyc files' if args.bytecode else 'PYTHONDONTWRITEBYTECODE=1, no .pyc cache'}; "
        f"imports: sum of -X importtime, the least of 3 runs; {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end\n"
    )
    print(f"| command | {before} | imports | {after} | imports | ratio (median) |")
    print("|---|---:|---:|---:|---:|---:|")
    titles = [title for title, _argv, _expect in COMMANDS]
    titles.append("ssc ingest pypi --limit 1: start to first request")
    for index, title in enumerate(titles):
        old, new = (timings[label][index] for label in trees)
        cells = [
            f"{statistics.median(t):.3f} s ({min(t):.3f}) | {import_ms[label][index]:.0f} ms"
            for label, t in ((before, old), (after, new))
        ]
        ratio = statistics.median(old) / statistics.median(new)
        print(f"| `{title}` | {' | '.join(cells)} | {ratio:.1f}x |")
    for label in trees:
        print(f'\n`python -X importtime -c "import ssc_cli.cli.app"`, {label}, cumulative:\n')
        print("| module | ms |")
        print("|---|---:|")
        for name, ms in imports[label]:
            print(f"| {name} | {ms:.0f} |")


def _command(
    argv: list[str], expect: int, tree: Path, env: dict[str, str], importtime: bool
) -> tuple[float, str]:
    return _run_seconds(tree, env, argv, expect, importtime)


if __name__ == "__main__":
    main()
