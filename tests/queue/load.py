"""The queue under load (issue 15, item 7): drain-queue workers, one producer adding while they
drain, workers SIGKILLed and Redis restarted at seeded moments; then every message accounted for.

Shared by tests/queue/test_load.py (a small run) and benchmarks/bench_queue_load.py (20,000
messages). The producer runs as its own process:
`python -m tests.queue.load produce URL ENTRIES.jsonl IDS.txt --backlog N --chunk N`.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from ssc_cli.models import Ecosystem
from ssc_cli.queue.message import ExtractionMessage
from tests.conftest import Ssc
from tests.queue.redis_server import RestartableRedis, extracted_count

STREAM, GROUP, DLQ = "package-extraction", "extractors", "package-extraction-dlq"
MAX_ATTEMPTS = 3  # SSC_QUEUE_MAX_ATTEMPTS' default
# The PyPI paths of the packages whose registry refuses them: a 403 is neither "missing" nor an
# outage, so each such message fails on every delivery and becomes a `failed` dead letter.
REFUSED = r"^/pypi/pypi/refused-"
_REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)

# Invalid entries, in turn: each is dead-lettered at once with this reason, never fetched.
_INVALID: list[tuple[str, dict[str, str]]] = [
    ("invalid_json", {"data": '{"node_type": "PyPIPackage", "package": '}),
    ("unsupported_type", {"data": json.dumps({"node_type": "GoPackage", "package": "x"})}),
    ("invalid_message", {"data": json.dumps({"node_type": "PyPIPackage"})}),
    ("invalid_message", {"data": json.dumps({"node_type": "PyPIPackage", "package": "a b"})}),
    ("no_data", {"payload": "depex sent this without data"}),
]


@dataclass(frozen=True)
class LoadPlan:
    """One seeded scenario."""

    messages: int = 1_000
    workers: int = 8
    kills: int = 2
    restarts: int = 1
    seed: int = 15
    invalid_every: int = 97  # every n-th message is invalid: an immediate dead letter
    refused_every: int = 89  # every n-th names a package its registry refuses: a late one
    versions: int = 2
    batch: int = 20
    backlog: int = 400  # the producer keeps the stream at most this long
    chunk: int = 50  # entries per producer MULTI
    claim_idle_ms: int = 3_000
    deadline: float = 600.0  # seconds the whole run may take before it counts as stuck


@dataclass(frozen=True)
class Planned:
    kind: str  # "ok", "refused" or the reason of an invalid entry
    name: str | None  # the package an "ok" or "refused" message names
    fields: dict[str, str]


def planned(plan: LoadPlan) -> list[Planned]:
    """The messages in producing order; "ok" ones name pkg-00000, pkg-00001, … in turn."""
    out: list[Planned] = []
    ok = 0
    for k in range(plan.messages):
        if k % plan.invalid_every == plan.invalid_every - 1:
            reason, fields = _INVALID[(k // plan.invalid_every) % len(_INVALID)]
            out.append(Planned(reason, None, fields))
            continue
        if k % plan.refused_every == plan.refused_every - 1:
            kind, name = "refused", f"refused-{k:05d}"
        else:
            kind, name, ok = "ok", f"pkg-{ok:05d}", ok + 1
        data = json.loads(ExtractionMessage.request(Ecosystem.PYPI, name).to_fields()["data"])
        data["seq"] = k  # ignored by ssc, as depex's `moment` is
        out.append(Planned(kind, name, {"data": json.dumps(data, sort_keys=True)}))
    return out


def ok_count(plan: LoadPlan) -> int:
    return sum(1 for p in planned(plan) if p.kind == "ok")


# -- the producer (its own process) ---------------------------------------------------------------


def _next_id(last: tuple[int, int]) -> tuple[int, int]:
    now = time.time_ns() // 1_000_000
    return (now, 0) if now > last[0] else (last[0], last[1] + 1)


def _landed(client: redis.Redis, entry_id: str) -> bool:
    """Whether an XADD of entry_id whose reply was lost went through (once Redis answers)."""
    while True:
        try:
            info: Any = client.xinfo_stream(STREAM)
        except redis.ResponseError:  # no stream yet
            return False
        except _REDIS_DOWN:
            time.sleep(0.5)
            continue
        top = str(info["last-generated-id"]).split("-")
        mine = entry_id.split("-")
        return (int(top[0]), int(top[1])) >= (int(mine[0]), int(mine[1]))


def produce(
    url: str, entries: list[dict[str, str]], ids_path: Path, backlog: int, chunk: int
) -> None:
    """XADD every entry, each exactly once: a chunk is one MULTI with ids chosen here, so after a
    lost reply (Redis restarting) the stream's last id says whether it went through."""
    client = redis.Redis.from_url(
        url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5
    )
    last = (0, 0)
    k = 0
    with ids_path.open("w") as out:
        while k < len(entries):
            try:
                if int(client.xlen(STREAM)) >= backlog:
                    time.sleep(0.05)
                    continue
            except _REDIS_DOWN:
                time.sleep(0.5)
                continue
            batch = entries[k : k + chunk]
            ids = []
            for _entry in batch:
                last = _next_id(last)
                ids.append(f"{last[0]}-{last[1]}")
            try:
                with client.pipeline(transaction=True) as pipe:
                    for entry_id, fields in zip(ids, batch, strict=True):
                        pipe.xadd(STREAM, fields, id=entry_id)  # type: ignore[arg-type]
                    pipe.execute()
            except _REDIS_DOWN:
                if not _landed(client, ids[-1]):
                    continue  # not added: sent again under new ids
            out.write("".join(f"{i}\n" for i in ids))
            out.flush()
            k += len(batch)
    client.close()


# -- the scenario ---------------------------------------------------------------------------------


@dataclass
class LoadReport:
    """What happened and the figures (messages/s, reclaimed, duplicates prevented)."""

    plan: LoadPlan
    elapsed: float = 0.0
    events: list[str] = field(default_factory=list)
    orphaned: int = 0  # entries the killed workers held when they died
    redis_down: float = 0.0  # seconds Redis was away
    summaries: list[dict[str, Any]] = field(default_factory=list)  # the surviving workers'
    dead_letters: Counter[str] = field(default_factory=Counter)  # per reason
    problems: list[str] = field(default_factory=list)

    @property
    def messages_per_second(self) -> float:
        return self.plan.messages / self.elapsed if self.elapsed else 0.0

    def total(self, key: str) -> int:
        return sum(int(s.get(key) or 0) for s in self.summaries)

    def figures(self) -> dict[str, Any]:
        return {
            "messages": self.plan.messages,
            "workers": self.plan.workers,
            "elapsed_s": round(self.elapsed, 1),
            "messages_per_second": round(self.messages_per_second, 1),
            "deliveries": self.total("total_processed"),
            "reclaimed": self.total("reclaimed"),
            "orphaned_by_kills": self.orphaned,
            "redeliveries_already_done": self.total("redeliveries_already_done"),
            "already_settled": self.total("already_settled"),
            "dead_letters": dict(sorted(self.dead_letters.items())),
            "redis_down_s": round(self.redis_down, 1),
            "events": self.events,
        }


def _consumer(proc: subprocess.Popen[Any]) -> str:
    return f"{socket.gethostname()}-{proc.pid}"  # drain-queue's default consumer name


def _pending_of(client: redis.Redis, name: str) -> int:
    for consumer in client.xinfo_consumers(STREAM, GROUP):
        if consumer["name"] == name:
            return int(consumer["pending"])
    return 0


def _drained(client: redis.Redis) -> bool:
    """Nothing pending and every entry delivered (the group's last id is the stream's)."""
    info: Any = client.xinfo_stream(STREAM)
    [group] = [g for g in client.xinfo_groups(STREAM) if g["name"] == GROUP]
    return int(group["pending"]) == 0 and group["last-delivered-id"] == info["last-generated-id"]


class _Clock:
    def __init__(self, deadline: float) -> None:
        self.end = time.monotonic() + deadline

    def check(self, what: str, *procs: subprocess.Popen[Any]) -> None:
        for proc in procs:
            assert proc.poll() is None, f"a process ended before {what}: exit {proc.returncode}"
        assert time.monotonic() < self.end, f"timed out waiting for {what}"


def run_load(
    plan: LoadPlan,
    ssc: Ssc,
    server: RestartableRedis,
    work: Path,
    say: Callable[[str], None] = lambda _line: None,
) -> LoadReport:
    """Run the scenario against ssc's graph, the fake registry and the Redis of `server`."""
    report = LoadReport(plan)
    rng = random.Random(plan.seed)
    entries = planned(plan)
    n_ok = sum(1 for p in entries if p.kind == "ok")
    # Seeded moments, as shares of the packages extracted: kills and restarts interleaved.
    moments = sorted(
        [(rng.uniform(0.15, 0.85), "kill") for _ in range(plan.kills)]
        + [(rng.uniform(0.3, 0.7), "restart") for _ in range(plan.restarts)]
    )
    work.mkdir(parents=True, exist_ok=True)
    entries_path, ids_path = work / "entries.jsonl", work / "ids.txt"
    entries_path.write_text("".join(json.dumps(p.fields) + "\n" for p in entries))
    env: dict[str, str | None] = {
        "SSC_REDIS_URL": server.url,
        "SSC_QUEUE_CLAIM_IDLE_MS": str(plan.claim_idle_ms),
        "SSC_QUEUE_BLOCK_MS": "500",
        "SSC_IMPORT_NAMES": "false",
    }
    drain = [sys.executable, "-m", "ssc_cli", "drain-queue", "--no-follow-deps", "--json"]
    drain += ["--batch", str(plan.batch)]
    outputs = []
    workers = []
    for i in range(plan.workers):
        out, err = (work / f"worker-{i}.json").open("w"), (work / f"worker-{i}.log").open("w")
        outputs += [out, err]
        workers.append(
            subprocess.Popen(drain, cwd=ssc.home, env=ssc.environment(env), stdout=out, stderr=err)
        )
    started = time.monotonic()
    producer = subprocess.Popen(
        [sys.executable, "-m", "tests.queue.load", "produce", server.url, str(entries_path)]
        + [str(ids_path), "--backlog", str(plan.backlog), "--chunk", str(plan.chunk)],
        cwd=ssc.home,
        env=ssc.environment(),
    )
    client = redis.Redis.from_url(server.url, decode_responses=True)
    clock = _Clock(plan.deadline)
    alive = list(workers)
    try:
        for share, what in moments:
            while extracted_count(ssc.graph_uri) < share * n_ok:
                clock.check(f"{share:.0%} of the packages", *alive)
                time.sleep(0.05)
            done = extracted_count(ssc.graph_uri)
            if what == "restart":
                down = time.monotonic()
                server.stop()  # SIGTERM: Redis fsyncs its append-only file and exits
                time.sleep(rng.uniform(1.0, 2.0))
                server.start()
                report.redis_down += time.monotonic() - down
                client.close()
                client = redis.Redis.from_url(server.url, decode_responses=True)
                report.events.append(f"Redis restarted at {done}/{n_ok} packages")
                say(report.events[-1])
                continue
            victim = rng.choice(alive)
            while _pending_of(client, _consumer(victim)) == 0:  # kill it holding a batch
                clock.check("a batch in the victim's hands", *alive)
                time.sleep(0.01)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            alive.remove(victim)
            held = _pending_of(client, _consumer(victim))
            report.orphaned += held
            report.events.append(f"worker SIGKILLed at {done}/{n_ok} packages holding {held}")
            say(report.events[-1])
        while producer.poll() is None:
            clock.check("the producer", *alive)
            time.sleep(0.1)
        assert producer.returncode == 0, f"the producer exited {producer.returncode}"
        while True:
            clock.check("the workers to drain the stream", *alive)
            try:
                if _drained(client):
                    break
            except _REDIS_DOWN:
                pass
            time.sleep(0.1)
        report.elapsed = time.monotonic() - started
        for worker in alive:
            worker.send_signal(signal.SIGTERM)
        for worker in alive:
            assert worker.wait(timeout=120) == 0, f"a worker exited {worker.returncode}"
    finally:
        for proc in [producer, *workers]:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for handle in outputs:
            handle.close()
    for i, worker in enumerate(workers):
        if worker in alive:
            report.summaries.append(json.loads((work / f"worker-{i}.json").read_text()))
    try:
        _account(report, entries, ids_path, ssc, client)
    finally:
        client.close()
    return report


def _account(
    report: LoadReport, entries: list[Planned], ids_path: Path, ssc: Ssc, client: redis.Redis
) -> None:
    """Every message either took effect once (its package extracted, once) or is one dead letter."""
    problems = report.problems
    plan = report.plan
    ids = ids_path.read_text().split()
    if len(ids) != len(entries) or len(set(ids)) != len(ids):
        problems.append(f"{len(ids)} ids ({len(set(ids))} distinct) for {len(entries)} messages")
        return
    by_id = dict(zip(ids, entries, strict=True))
    letters = Counter[str]()
    seen: dict[str, list[str]] = {}
    for _letter_id, fields in client.xrange(DLQ):
        letters[fields["original_id"]] += 1
        seen.setdefault(fields["original_id"], []).append(
            f"{fields['consumer']} attempt {fields['attempts']}"
        )
        report.dead_letters[fields["reason"]] += 1
        planned_entry = by_id.get(fields["original_id"])
        if planned_entry is None:
            problems.append(f"a dead letter for an entry never produced: {fields}")
        elif planned_entry.kind == "refused":
            if fields["reason"] != "failed" or int(fields["attempts"]) < MAX_ATTEMPTS:
                problems.append(f"{planned_entry.name}: dead-lettered early: {fields}")
        elif planned_entry.kind != fields["reason"]:
            problems.append(f"{fields['original_id']} ({planned_entry.kind}): {fields}")
    group = next(g for g in client.xinfo_groups(STREAM) if g["name"] == GROUP)
    if int(group["pending"]):
        problems.append(f"{group['pending']} entries still pending")

    export = ssc.export()
    packages = Counter(i["name"] for i in export if i["type"] == "package")
    status = {i["name"]: i.get("status") for i in export if i["type"] == "package"}
    versions = [i["purl"] for i in export if i["type"] == "version"]
    edges = [(i["from"], i["to"]) for i in export if i["type"] == "requires"]
    lost, doubled = [], []
    for entry_id, entry in by_id.items():
        settled = letters[entry_id]
        if entry.kind == "ok":
            if settled:
                doubled.append(f"{entry.name} extracted and dead-lettered")
            elif packages[entry.name] != 1 or status[entry.name] != "extracted":
                lost.append(f"{entry.name}: {packages[entry.name]} nodes, {status.get(entry.name)}")
        elif settled != 1:
            (lost if settled == 0 else doubled).append(
                f"{entry_id} ({entry.kind}): {settled} dead letters ({', '.join(seen.get(entry_id, []))})"
            )
        if entry.kind == "refused" and status.get(entry.name) == "extracted":
            doubled.append(f"{entry.name} refused yet extracted")
    problems += [f"lost: {x}" for x in lost[:20]] + [f"double: {x}" for x in doubled[:20]]
    if lost or doubled:
        problems.append(f"{len(lost)} messages lost, {len(doubled)} with a double effect")
    n_ok = sum(1 for p in entries if p.kind == "ok")
    if len(versions) != len(set(versions)) or len(versions) != n_ok * plan.versions:
        problems.append(f"{len(versions)} versions ({len(set(versions))} distinct)")
    # pypi.synthetic(deps=1): every project but the first requires one other, in every version.
    if len(edges) != len(set(edges)) or len(edges) != (n_ok - 1) * plan.versions:
        problems.append(f"{len(edges)} dependency edges ({len(set(edges))} distinct)")


def main() -> None:
    parser = argparse.ArgumentParser(description="the load scenario's producer")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("produce")
    cmd.add_argument("url")
    cmd.add_argument("entries", type=Path)
    cmd.add_argument("ids", type=Path)
    cmd.add_argument("--backlog", type=int, default=400)
    cmd.add_argument("--chunk", type=int, default=50)
    args = parser.parse_args()
    entries = [json.loads(line) for line in args.entries.read_text().splitlines()]
    produce(args.url, entries, args.ids, args.backlog, args.chunk)


if __name__ == "__main__":
    main()
