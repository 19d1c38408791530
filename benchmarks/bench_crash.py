"""Crash consistency: ssc SIGKILLed at seeded moments, then rerun, against an undisturbed run.

For each command (ingest PyPI, ingest npm, update npm after new releases and deprecations, a
drain-queue worker on a private redis-server) the undisturbed run is measured and traced first;
then it is SIGKILLed --kills times, each time from the same starting state: at a planted point
(inside write transaction N, right after cursor save N; drain-queue: right after XACK N, the
stream's cursor) or at a random wall-clock moment (a share of the undisturbed run's length, as
tests/reliability/test_crash.py does). After each kill: `PRAGMA integrity_check`, every package the
graph holds as extracted is whole, no cursor ahead of committed data (a moved cursor means the
graph is already the undisturbed one; an acked stream entry means its package is in the graph);
then the command is rerun and its export compared with the undisturbed run's.

Run: flock /tmp/ssc-heavy.lock python benchmarks/bench_crash.py [--kills N] [--seed S]
[--packages N] [--only ingest-pypi,ingest-npm,update-npm,drain-queue]. Needs redis-server on
PATH for drain-queue. Exit 1 when any export differs or a cursor was ahead.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import Ssc  # noqa: E402
from tests.fakeregistry import pypi  # noqa: E402
from tests.fakeregistry.npm import NpmApp  # noqa: E402
from tests.fakeregistry.server import FakeRegistry  # noqa: E402
from tests.queue.conftest import _start_redis, _stop  # noqa: E402
from tests.reliability import crash  # noqa: E402

BATCHES = {"SSC_WRITE_BATCH_SIZE": "4"}  # several write transactions per run
STREAM = "package-extraction"
PLANTED_SHARE = 0.6  # the rest are random wall-clock moments


@dataclass
class Command:
    """One command to crash: how to set up its starting state, and how to run it."""

    name: str
    ecosystem: str
    args: tuple[str, ...]
    prepare: Callable[[Ssc], None]  # the state the command starts from (graph, queue)
    cursor_event: str = "cursor"  # the planted "after a cursor save" point
    queue: redis.Redis | None = None
    env: dict[str, str | None] = field(default_factory=lambda: dict(BATCHES))


@dataclass
class Tally:
    kills: int = 0
    landed: Counter[str] = field(default_factory=Counter)
    identical: int = 0
    cursor_ahead: int = 0
    broken: int = 0  # integrity failures or committed packages that are not whole
    missed: int = 0  # random moments after the run had ended (drawn again)
    wall: float = 0.0
    undisturbed: float = 0.0
    problems: list[str] = field(default_factory=list)


def _acked_but_absent(command: Command, ssc: Ssc, partial: list[dict[str, Any]]) -> list[str]:
    """Packages whose stream entry was acked although the graph does not hold them extracted."""
    assert command.queue is not None
    groups = command.queue.xinfo_groups(STREAM)
    if not groups:
        return []
    delivered = crash.entry_key(str(groups[0]["last-delivered-id"]))
    pending = {
        str(row["message_id"])
        for row in command.queue.xpending_range(STREAM, "extractors", "-", "+", 100_000)
    }
    done = {
        str(i["name"])
        for i in partial
        if i["type"] == "package" and i["status"] in {"extracted", "missing"}
    }
    absent = []
    for entry_id, fields in command.queue.xrange(STREAM):
        if crash.entry_key(str(entry_id)) <= delivered and str(entry_id) not in pending:
            package = _message_package(fields)
            if package not in done:
                absent.append(package)
    return absent


def _message_package(fields: dict[str, str]) -> str:
    return str(json.loads(fields.get("data") or "{}").get("package", ""))


def _one_kill(
    command: Command,
    base: Ssc,
    k: int,
    moment: str,
    duration: float,
    rng: random.Random,
    reference: list[dict[str, Any]],
    before: list[dict[str, Any]],
    tally: Tally,
) -> bool:
    """Kill the command once at moment (write:N, cursor:N, ack:N or random), check, rerun,
    compare. False when a random moment came after the run had ended (nothing was killed)."""
    ssc = base.with_graph(f"kill-{k}.sqlite")
    ssc.env["SSC_CACHE_DIR"] = str(base.home / f"cache-{k}")  # cold, as the undisturbed run
    ssc.home.joinpath(f"kill-{k}.sqlite").unlink(missing_ok=True)
    if crash.graph_path(base).is_file():
        crash.copy_graph(base, ssc)
    command.prepare(ssc)
    cursor_before = crash.cursor(ssc, command.ecosystem)
    trace = ssc.home / f"trace-{k}.txt"
    trace.unlink(missing_ok=True)
    if moment == "random":
        delay = rng.uniform(0.05, 0.95) * duration
        code = crash.killed_after(ssc, delay, *command.args, env=command.env, trace=trace)
    else:
        code = crash.faulted(ssc, moment, *command.args, env=command.env, trace=trace).returncode
    if code != -9:
        if moment == "random":
            tally.missed += 1
            return False
        tally.problems.append(f"{command.name} {moment}: exited {code}, not killed")
        return True
    tally.kills += 1
    where = crash.landed(trace)
    tally.landed[where] += 1
    label = f"{command.name} kill {k} ({moment}, {where})"
    if crash.graph_path(ssc).is_file():
        if (result := crash.integrity(ssc)) != "ok":
            tally.broken += 1
            tally.problems.append(f"{label}: integrity {result}")
        partial = ssc.export()
        # Each package the graph holds as extracted is whole: as before the run or as after it.
        torn = set(crash.whole(partial, reference)) & set(crash.whole(partial, before))
        if torn:
            tally.broken += 1
            tally.problems.append(f"{label}: not whole: {sorted(torn)[:5]}")
        saved = crash.cursor(ssc, command.ecosystem)
        if saved != cursor_before and partial != reference:
            tally.cursor_ahead += 1
            tally.problems.append(f"{label}: cursor moved to {saved} before the data")
        if command.queue is not None and (absent := _acked_but_absent(command, ssc, partial)):
            tally.cursor_ahead += 1
            tally.problems.append(f"{label}: acked but not in the graph: {absent[:5]}")
    ssc(*command.args, env=command.env)
    after = ssc.export()
    if after == reference:
        tally.identical += 1
    else:
        diff = [i for i in after if i not in reference] + [i for i in reference if i not in after]
        tally.problems.append(f"{label}: export differs after the rerun: {diff[:3]}")
    return True


def run_command(command: Command, home: Path, env: dict[str, str], kills: int, seed: int) -> Tally:
    """The undisturbed run, then `kills` kills of the command, each rerun and compared."""
    tally = Tally()
    started = time.monotonic()
    home.mkdir(parents=True)
    base = Ssc(
        home, {**env, "SSC_DATA_DIR": str(home / "data"), "SSC_CACHE_DIR": str(home / "cache")}
    )
    base.env["SSC_GRAPH_URI"] = f"sqlite:///{home / 'base.sqlite'}"
    command.prepare(base)  # the base graph (ingest: none; update: after the first ingest)
    clean = base.with_graph("clean.sqlite")
    if crash.graph_path(base).is_file():
        crash.copy_graph(base, clean)
    before = clean.export() if crash.graph_path(clean).is_file() else []
    command.prepare(clean)
    trace = home / "trace-clean.txt"
    run_started = time.monotonic()
    done = crash.faulted(clean, "none", *command.args, env=command.env, trace=trace)
    tally.undisturbed = time.monotonic() - run_started
    if done.returncode != 0:
        raise SystemExit(f"{command.name}: the undisturbed run exited {done.returncode}")
    reference = clean.export()
    events = Counter(crash.events(trace))
    writes, cursors = events["write+"], events[command.cursor_event]
    rng = random.Random(f"{seed}-{command.name}")
    # Planted points in turn: inside write N, right after write N committed, right after
    # cursor save N (PyPI's ingest saves none: its listing has no change serial).
    points = [("write", writes), ("written", writes)]
    if cursors:
        points.append((command.cursor_event, cursors))
    planted = round(kills * PLANTED_SHARE)
    moments = ["random"] * (kills - planted)
    for i in range(planted):
        kind, count = points[i % len(points)]
        moments.append(f"{kind}:{rng.randint(1, count)}")
    rng.shuffle(moments)
    k = 0
    for moment in moments:
        while not _one_kill(
            command, base, k, moment, tally.undisturbed, rng, reference, before, tally
        ):
            k += 1
            if tally.missed > 10 * kills:
                raise SystemExit(f"{command.name}: random moments keep missing the run")
        k += 1
    tally.wall = time.monotonic() - started
    return tally


def environment(server: FakeRegistry, redis_url: str | None) -> dict[str, str]:
    """Every run's settings but its graph, data and cache paths (set per run)."""
    env = {
        "SSC_HTTP_RATE_LIMIT": "off",
        "SSC_HTTP_BACKOFF_BASE": "0.01",
        "SSC_HTTP_BACKOFF_MAX": "0.2",
        "SSC_PYPI_URL": server.url("pypi"),
        "SSC_NPM_URL": server.url("npm"),
        "SSC_NPM_REPLICATE_URL": server.url("npm-replicate") + "/registry",
        "SSC_IMPORT_NAMES": "false",
    }
    if redis_url is not None:
        env.update(
            {
                "SSC_REDIS_URL": redis_url,
                "SSC_QUEUE_CLAIM_IDLE_MS": "1000",  # a rerun claims the dead worker's batch
                "SSC_QUEUE_BLOCK_MS": "100",
                # Acked entries stay on the stream, so each can be checked against the graph.
                "SSC_QUEUE_TRIM_ACKED": "false",
            }
        )
    return env


def _change(npm: NpmApp, count: int) -> None:
    """The registry moves on: new releases (some with a new dependency) and deprecations."""
    names = sorted(npm.docs)
    for i, name in enumerate(names[:count]):
        if i % 3 == 2:
            version = sorted(npm.docs[name]["versions"])[0]
            npm.deprecate(name, version, "use something else")
        else:
            npm.publish(name, "9.0.0", dependencies={names[-1 - i]: "^1.0.0"})


def commands(server: FakeRegistry, packages: int, client: redis.Redis | None) -> dict[str, Command]:
    npm_ingest = NpmApp.synthetic(packages, versions=3, deps=2)
    npm_update = NpmApp.synthetic(packages, versions=3, deps=2, seed=8)
    server.mount("pypi", pypi.synthetic(packages, versions=3, deps=2))
    changed: list[bool] = []

    def nothing(ssc: Ssc) -> None:
        pass

    def npm_mounted(ssc: Ssc) -> None:
        npm_ingest.mount(server)

    def ingested_then_changed(ssc: Ssc) -> None:
        npm_update.mount(server)
        if crash.graph_path(ssc).is_file():
            return  # a copy of the base graph: already ingested
        ssc("ingest", "npm", env=BATCHES)
        if not changed:
            _change(npm_update, packages // 4)
            changed.append(True)

    roots = [f"pkg-{i:05d}" for i in range(packages - 1, packages // 2, -4)]

    def enqueued(ssc: Ssc) -> None:
        assert client is not None
        client.flushall()
        ssc("enqueue", "pypi", *roots)

    table = {
        "ingest-pypi": Command("ingest pypi", "pypi", ("ingest", "pypi"), nothing),
        "ingest-npm": Command("ingest npm", "npm", ("ingest", "npm"), npm_mounted),
        "update-npm": Command("update npm", "npm", ("update", "npm"), ingested_then_changed),
        "drain-queue": Command(
            "drain-queue",
            "pypi",
            ("drain-queue", "--until-empty", "--batch", "4"),
            enqueued,
            cursor_event="ack",
            queue=client,
        ),
    }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--packages", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.01)
    parser.add_argument("--only", default="ingest-pypi,ingest-npm,update-npm,drain-queue")
    args, _ignored = parser.parse_known_args()  # `nox -s bench -- …` passes args to every script
    chosen = args.only.split(",")
    with tempfile.TemporaryDirectory() as tmp, FakeRegistry(latency=args.latency) as server:
        proc = None
        client = None
        url = None
        if "drain-queue" in chosen:
            binary = shutil.which("redis-server")
            if binary is None:
                raise SystemExit("redis-server not found on PATH")
            started = _start_redis(binary, Path(tmp))
            if started is None:
                raise SystemExit("redis-server did not start")
            proc, url = started
            client = redis.Redis.from_url(url, decode_responses=True)
        try:
            table = commands(server, args.packages, client)
            env = environment(server, url)
            results = {
                name: run_command(table[name], Path(tmp) / name, env, args.kills, args.seed)
                for name in chosen
            }
        finally:
            if client is not None:
                client.close()
            if proc is not None:
                _stop(proc)
    _report(results, args)


def _report(results: dict[str, Tally], args: argparse.Namespace) -> None:
    print(
        f"crash consistency: {args.packages} packages per registry, write batches of 4, "
        f"{args.latency * 1000:.0f} ms registry latency, seed {args.seed}\n"
    )
    print(
        "| command | kills | inside a write | after a commit | after a cursor save | elsewhere "
        "| identical exports | cursor ahead | torn | undisturbed run (s) | wall (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, t in results.items():
        print(
            f"| {name} | {t.kills} | {t.landed[crash.INSIDE_A_WRITE]} "
            f"| {t.landed[crash.AFTER_A_COMMIT]} | {t.landed[crash.AFTER_A_CURSOR_SAVE]} | {t.landed[crash.ELSEWHERE]} "
            f"| {t.identical}/{t.kills} | {t.cursor_ahead} | {t.broken} "
            f"| {t.undisturbed:.2f} | {t.wall:.0f} |"
        )
    problems = [p for t in results.values() for p in t.problems]
    missed = sum(t.missed for t in results.values())
    print(f"\nrandom moments drawn again because the run had already ended: {missed}")
    for problem in problems:
        print(f"PROBLEM {problem}")
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
