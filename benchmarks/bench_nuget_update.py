"""NuGet update cost: it follows the catalog items since the watermark, not the graph size.

Runs side by side, in one process, against the fake feed on 127.0.0.1:
  small graph + K new items, large graph + K new items, large graph + 4K new items.
Each graph is ingested once (not timed); then, per case and round, the catalog grows by the
case's items and `update` is timed: the feed part (changes(): catalog pages after the
watermark and their leaves) and the whole run (plus refetching and writing the changed
packages). Medians of the rounds are printed with requests and leaves read, then the ratios.

    python benchmarks/bench_nuget_update.py [--small 200] [--large 2000] [--items 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ssc_cli.graph.sqlite import SqliteStore  # noqa: E402
from ssc_cli.http import Http, HttpConfig  # noqa: E402
from ssc_cli.pipeline.ingest import IngestOptions, ingest  # noqa: E402
from ssc_cli.pipeline.update import UpdateOptions, update  # noqa: E402
from ssc_cli.registries.nuget.client import NuGetRegistry  # noqa: E402
from ssc_cli.settings import Settings  # noqa: E402
from tests.fakeregistry import nuget  # noqa: E402
from tests.fakeregistry.server import FakeRegistry  # noqa: E402


@dataclass
class Round:
    items: int
    seconds: float
    changes_seconds: float
    cpu: float  # client CPU seconds (the feed runs in another process): steadier under load
    changes_cpu: float
    requests: int
    leaves: int
    processed: int


def grow(app: nuget.NuGetApp, graph: int, items: int, tag: int) -> None:
    """`items` new catalog items: new versions of consecutive packages, 50 per commit."""
    for n in range(items):
        package = (tag * 7919 + n) % graph
        app.publish(
            f"Synthetic.Pkg{package}",
            f"9.{tag}.{n // graph}",
            deps={"net8.0": [(f"Synthetic.Pkg{(package + 1) % graph}", "[1.0.0, )")]},
            repository=f"https://github.com/synthetic/pkg{package}",
            dlls=[f"Synthetic.Pkg{package}"],
        )
        if n % 50 == 49:
            app.commit()
    app.commit()


class FeedProcess:
    """The fake feed in a child process, so it does not share the client's GIL."""

    def __init__(self, graph: int) -> None:
        self.graph = graph
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("fork").Process(
            target=_serve_feed, args=(graph, child), daemon=True
        )
        self.url = ""

    def __enter__(self) -> FeedProcess:
        self.process.start()
        self.url = self.conn.recv()
        return self

    def grow(self, items: int, tag: int) -> None:
        self.conn.send((items, tag))
        self.conn.recv()

    def __exit__(self, *exc: object) -> None:
        self.conn.send(None)
        self.process.join(timeout=10)


def _serve_feed(graph: int, conn: Any) -> None:
    app = nuget.synthetic(graph, versions_per_package=3, deps_per_version=2)
    with FakeRegistry() as server:
        server.mount("nuget", app)
        conn.send(server.url("nuget"))
        while (command := conn.recv()) is not None:
            items, tag = command
            grow(app, graph, items, tag)
            conn.send("ok")


async def timed_update(settings: Settings, store: SqliteStore) -> Round:
    """One `update` (pipeline and client as the CLI runs them), with changes() timed apart."""
    async with Http(HttpConfig(user_agent="bench", rate_limits=False)) as http:
        registry = NuGetRegistry(settings, http)
        feed_seconds = feed_cpu = 0.0
        changes = registry.changes

        async def timed_changes(view: Any) -> Any:
            nonlocal feed_seconds, feed_cpu
            started, cpu = time.perf_counter(), time.process_time()
            result = await changes(view)
            feed_seconds = time.perf_counter() - started
            feed_cpu = time.process_time() - cpu
            return result

        registry.changes = timed_changes  # type: ignore[method-assign]
        started, cpu = time.perf_counter(), time.process_time()
        summary = await update(registry, store, UpdateOptions(concurrency=16))
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        registry.archive.close()
        return Round(
            0,
            seconds,
            feed_seconds,
            cpu,
            feed_cpu,
            http.counters.requests,
            registry.stats["catalog_leaves"],
            summary.packages_processed,
        )


async def run_graph(
    graph: int, item_counts: list[int], rounds: int, root: Path
) -> dict[int, Round]:
    """Ingest a graph of `graph` packages once, then median-of-rounds updates per item count."""
    results: dict[int, Round] = {}
    with FeedProcess(graph) as feed:
        settings = Settings(
            nuget_url=feed.url + "/v3/index.json",
            data_dir=root / "data",
            cache_dir=root / "cache",
            http_rate_limit=False,
        )
        store = SqliteStore.from_uri(f"sqlite:///{root / 'graph.sqlite'}")
        store.migrate()
        try:
            started = time.perf_counter()
            async with Http(HttpConfig(user_agent="bench", rate_limits=False)) as http:
                registry = NuGetRegistry(settings, http)
                await ingest(registry, store, IngestOptions(concurrency=16))
                registry.archive.close()
            took = time.perf_counter() - started
            print(f"ingested {graph} packages in {took:.1f}s", file=sys.stderr, flush=True)
            tag = 0
            for items in item_counts:
                samples = []
                for _ in range(rounds):
                    tag += 1
                    feed.grow(items, tag)
                    samples.append(await timed_update(settings, store))
                samples.sort(key=lambda r: r.cpu)
                median = samples[len(samples) // 2]
                median.items = items
                results[items] = median
                print(f"{graph} packages, {items} items: {median}", file=sys.stderr, flush=True)
        finally:
            store.close()
    return results


def row(graph: int, r: Round) -> str:
    return (
        f"| {graph} | {r.items} | {r.cpu:.3f} | {r.changes_cpu:.3f} | {r.seconds:.3f} "
        f"| {r.changes_seconds:.3f} | {r.requests} | {r.leaves} | {r.processed} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=200, help="packages in the small graph")
    parser.add_argument("--large", type=int, default=2000, help="packages in the large graph")
    parser.add_argument("--items", type=int, default=50, help="catalog items since the watermark")
    parser.add_argument("--rounds", type=int, default=3, help="updates per case (median kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-nuget-") as tmp:
        small = asyncio.run(run_graph(args.small, [args.items], args.rounds, Path(tmp) / "s"))
        large = asyncio.run(
            run_graph(args.large, [args.items, 4 * args.items], args.rounds, Path(tmp) / "l")
        )
    a, b, c = small[args.items], large[args.items], large[4 * args.items]
    print(f"NuGet update, median (by CPU) of {args.rounds} updates per case; feed = changes():\n")
    print(
        "| graph (packages) | catalog items since watermark | update CPU (s) | feed CPU (s) "
        "| update wall (s) | feed wall (s) | requests | leaves read | packages refetched |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for graph, result in ((args.small, a), (args.large, b), (args.large, c)):
        print(row(graph, result))
    print(
        f"\ngraph x{args.large / args.small:.0f}, same items: requests **x{b.requests / a.requests:.2f}**, "
        f"update CPU x{b.cpu / a.cpu:.2f}, feed CPU x{b.changes_cpu / a.changes_cpu:.2f}, "
        f"update wall x{b.seconds / a.seconds:.2f}"
    )
    print(
        f"items x4, same graph: requests **x{c.requests / b.requests:.2f}**, "
        f"update CPU x{c.cpu / b.cpu:.2f}, feed CPU x{c.changes_cpu / b.changes_cpu:.2f}, "
        f"update wall x{c.seconds / b.seconds:.2f}\n"
    )


if __name__ == "__main__":
    main()
