"""Scale (issue 16): the daily update at 1 % churn, a full re-crawl, and the old system's pattern.

    python benchmarks/bench_scale_update.py update --ecosystem npm --packages 10000
    python benchmarks/bench_scale_update.py oldsystem --ecosystem pypi --sample 200

update: builds the graph of a realistic registry (rate limits lifted, no latency: only the
graph matters), applies one day of churn (1 % of the packages publish a version), then runs,
against the same registry with latency 50-100 ms:
  * `ssc update <eco>` with the default rate and in-flight limits on (wall measured);
  * `ssc update <eco> --full`, the re-crawl of every stored package, rate limits lifted and
    --full-in-flight (48) in flight (its
    wall under the limits is requests / budget: the politeness run shows ssc reaches it);
  * the old system's update (securechain-compat.md §4.0): every stored package's metadata
    again, one request per new version, one graph query per version, sequentially.

oldsystem: the same sample of package names, bulk-ingested into fresh graphs by ssc
(`ingest --names-from --no-follow-deps`: default in-flight caps with rate limits lifted, as the
old system had none; the in-flight cap raised; and, the issue's condition, each registry's
default rate and in-flight limits on) and by a replay of the seed pipeline's pattern (sequential packages, one
request per version, one graph query per version and per dependency, artefacts downloaded
whole for import names, one write per package), both at latency 50-100 ms.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from scale_common import BUDGETS, CAP_SETTING, REPO, Served, run_ssc, serve, ssc_env

from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem, PackageRecord, Requirement, VersionRecord


class OldPipeline:
    """The seed's request pattern (securechain-compat.md §4) against the fake and a SQLite store."""

    def __init__(self, eco: str, served: Served, graph: Path) -> None:
        self.eco = eco
        self.ecosystem = Ecosystem(eco)
        self.env = served.env
        self.client = httpx.Client(timeout=60)
        self.store = SqliteStore(graph)
        self.store.migrate()
        self.db = sqlite3.connect(graph)
        self.requests = 0
        self.queries = 0

    def close(self) -> None:
        self.client.close()
        self.db.close()
        self.store.close()

    def _get(self, url: str) -> httpx.Response:
        self.requests += 1
        return self.client.get(url)

    def _query(self, sql: str, *params: object) -> None:
        self.queries += 1
        self.db.execute(sql, params).fetchall()

    def _read_package(self, name: str) -> None:
        self._query("SELECT * FROM packages WHERE ecosystem = ? AND name = ?", self.eco, name)

    # -- metadata per ecosystem, as the seed read it ---------------------------------------

    def metadata(self, name: str) -> tuple[list[str], Any]:
        """(versions, document) from one metadata request."""
        if self.eco == "pypi":
            doc = self._get(f"{self.env['SSC_PYPI_URL']}/pypi/{name}/json").json()
            return list(doc["releases"]), doc
        if self.eco == "npm":
            doc = self._get(f"{self.env['SSC_NPM_URL']}/{name.replace('/', '%2F')}").json()
            return list(doc["versions"]), doc
        group, artifact = name.split(":")
        base = f"{self.env['SSC_MAVEN_URL']}/{group.replace('.', '/')}/{artifact}"
        text = self._get(f"{base}/maven-metadata.xml").text  # stands in for the Solr search
        return re.findall(r"<version>([^<]+)</version>", text), base

    def version_deps(self, name: str, version: str, doc: Any) -> list[tuple[str, str]]:
        """One version's dependencies: one request per version (npm: in the packument)."""
        if self.eco == "pypi":
            url = f"{self.env['SSC_PYPI_URL']}/pypi/{name}/{version}/json"
            info = self._get(url).json()["info"]
            deps = []
            for spec in info.get("requires_dist") or []:
                if "extra" in spec:
                    continue
                match = re.match(r"([A-Za-z0-9._-]+)\s*(.*)", spec.split(";")[0])
                if match:
                    deps.append((match.group(1).lower(), match.group(2) or "any"))
            return deps
        if self.eco == "npm":
            return list((doc["versions"][version].get("dependencies") or {}).items())
        artifact = doc.rsplit("/", 1)[1]
        pom = self._get(f"{doc}/{version}/{artifact}-{version}.pom").text
        block = pom.split("<dependencies>", 1)[1].split("</dependencies>", 1)[0]
        return [
            (f"{g}:{a}".lower(), v)
            for g, a, v in re.findall(
                r"<groupId>([^<]+)</groupId>\s*<artifactId>([^<]+)</artifactId>\s*"
                r"<version>([^<]+)</version>",
                block,
            )
        ]

    def import_names(self, name: str, versions: list[str], doc: Any) -> None:
        """The seed downloads the newest version's artefact whole (npm: the packument again)."""
        latest = versions[-1]
        if self.eco == "pypi":
            files = doc["releases"][latest]
            wheels = [f for f in files if f["packagetype"] == "bdist_wheel"] or files
            if wheels:
                self._get(wheels[0]["url"])
        elif self.eco == "npm":
            again = self._get(f"{self.env['SSC_NPM_URL']}/{name.replace('/', '%2F')}").json()
            self._get(again["versions"][latest]["dist"]["tarball"])
        else:
            artifact = doc.rsplit("/", 1)[1]
            self._get(f"{doc}/{latest}/{artifact}-{latest}.jar")

    # -- the two jobs ----------------------------------------------------------------------

    def ingest(self, names: list[str]) -> None:
        for name in names:
            self._read_package(name)  # exists already? (read_package_by_name)
            versions, doc = self.metadata(name)
            records = []
            for version in versions:
                self._query(  # attribute_vulnerabilities: one query per version
                    "SELECT * FROM versions WHERE purl = ?", f"{name}@{version}"
                )
                deps = self.version_deps(name, version, doc)
                for dep, _ in deps:
                    self._read_package(dep)  # generate_packages: exists? per dependency
                records.append(
                    VersionRecord(
                        version,
                        requirements=[Requirement(name=d, constraints=c) for d, c in deps],
                    )
                )
            self.import_names(name, versions, doc)
            self.store.write_packages([PackageRecord(self.ecosystem, name, records)])

    def update(self) -> None:
        """Every stored package again (batches of 100), new versions one request each."""
        offset = 0
        while True:
            rows = self.db.execute(
                "SELECT name FROM packages WHERE ecosystem = ? AND status = 'extracted' "
                "LIMIT 100 OFFSET ?",
                (self.eco, offset),
            ).fetchall()
            self.queries += 1
            if not rows:
                return
            offset += len(rows)
            for (name,) in rows:
                versions, doc = self.metadata(name)
                stored = {
                    r[0]
                    for r in self.db.execute(
                        "SELECT v.name FROM versions v JOIN packages p ON v.package_purl = p.purl "
                        "WHERE p.ecosystem = ? AND p.name = ?",
                        (self.eco, name),
                    )
                }
                self.queries += 2  # count(HAVE), then the names in the graph
                for version in versions:
                    if version not in stored:
                        self._query("SELECT * FROM versions WHERE purl = ?", f"{name}@{version}")
                        self.version_deps(name, version, doc)
                self._query(  # update_package_moment
                    "SELECT * FROM packages WHERE ecosystem = ? AND name = ?", self.eco, name
                )


def _sample_names(served: Served, sample: int) -> list[str]:
    """Every k-th package (spread over the heavy tail), as ssc normalises them."""
    step = max(1, served.universe.n // sample)
    names = [served.universe.names[i] for i in range(0, served.universe.n, step)][:sample]
    return [Ecosystem(served.universe.ecosystem).normalize_name(n) or n for n in names]


def oldsystem(eco: str, n: int, sample: int, in_flight: int) -> None:
    served = serve(eco, n)
    names = _sample_names(served, sample)
    work = Path(tempfile.mkdtemp(prefix=f"scale-old-{eco}-"))
    try:
        listing = work / "names.txt"
        listing.write_text("\n".join(names) + "\n")
        env = ssc_env(work / "ssc", served, SSC_HTTP_RATE_LIMIT="off")
        (work / "ssc").mkdir()
        ssc = run_ssc(env, "ingest", eco, "--names-from", str(listing), "--no-follow-deps")
        # The old system had no politeness at all: ssc with its in-flight cap raised too.
        (work / "wide").mkdir()
        wide_env = ssc_env(
            work / "wide", served, SSC_HTTP_RATE_LIMIT="off", **{CAP_SETTING[eco]: str(in_flight)}
        )
        wide = run_ssc(
            wide_env,
            "ingest",
            eco,
            "--names-from",
            str(listing),
            "--no-follow-deps",
            "--concurrency",
            str(in_flight),
        )
        # The conditions: each registry's default rate and in-flight limits on.
        (work / "polite").mkdir()
        polite = run_ssc(
            ssc_env(work / "polite", served),
            "ingest",
            eco,
            "--names-from",
            str(listing),
            "--no-follow-deps",
        )
        old = OldPipeline(eco, served, work / "old.sqlite")
        started = time.monotonic()
        old.ingest(names)
        old_wall = time.monotonic() - started
        old.close()
    finally:
        served.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"## Bulk ingest of {len(names)} {eco} packages: ssc vs the old pattern\n")
    print("| run | requests | graph queries | wall (s) | packages/s |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| ssc (default in-flight cap {BUDGETS[eco][1]}) | {ssc['requests']} | - "
        f"| {ssc['_wall_s']:.1f} | {len(names) / ssc['_wall_s']:.2f} |"
    )
    print(
        f"| ssc ({in_flight} in flight) | {wide['requests']} | - "
        f"| {wide['_wall_s']:.1f} | {len(names) / wide['_wall_s']:.2f} |"
    )
    print(
        f"| ssc (default rate {BUDGETS[eco][0]:g} req/s and cap {BUDGETS[eco][1]} on) "
        f"| {polite['requests']} | - | {polite['_wall_s']:.1f} "
        f"| {len(names) / polite['_wall_s']:.2f} |"
    )
    print(
        f"| old pattern (sequential) | {old.requests} | {old.queries} | {old_wall:.1f} "
        f"| {len(names) / old_wall:.2f} |"
    )
    print(
        f"\nssc is **{old_wall / ssc['_wall_s']:.1f}x** faster at the default cap, "
        f"**{old_wall / wide['_wall_s']:.1f}x** at {in_flight} in flight, "
        f"**{old_wall / polite['_wall_s']:.2f}x** with the default rate limits on "
        "(target >= 20x)\n"
    )


def update(eco: str, n: int, graph: Path | None, full_in_flight: int) -> None:
    rate, _ = BUDGETS[eco]
    work = Path(tempfile.mkdtemp(prefix=f"scale-upd-{eco}-"))
    served = serve(eco, n, latency=(0.0, 0.0))
    try:
        if graph is not None:
            shutil.copytree(graph, work, dirs_exist_ok=True)
            built: dict[str, Any] = {"_wall_s": 0.0, "new_packages_ingested": "(copied)"}
        else:
            env = ssc_env(work, served, SSC_HTTP_RATE_LIMIT="off")
            built = run_ssc(env, "ingest", eco, "--concurrency", "32")
        served.stop()
        served = serve(eco, n)
        # The served universe restarts at day 0; replay the days the graph has seen: none.
        changed = served.advance_day()
        served.app.counts.clear()
        snapshot = work.parent / (work.name + "-before-full")
        shutil.copytree(work, snapshot)
        # The same update with import names not re-read (the old system never refreshed them).
        bare = work.parent / (work.name + "-no-imports")
        shutil.copytree(work, bare)
        no_imports = run_ssc(ssc_env(bare, served, SSC_IMPORT_NAMES="false"), "update", eco)
        shutil.rmtree(bare, ignore_errors=True)
        served.app.counts.clear()
        limited = run_ssc(ssc_env(work, served), "update", eco)
        feed = {k: v for k, v in served.app.counts.items()}
        # The re-crawl's requests are what matter (its wall under the limits is requests / budget);
        # it runs with the in-flight cap raised so that it does not last an hour at 100,000.
        full_env = ssc_env(
            work, served, SSC_HTTP_RATE_LIMIT="off", **{CAP_SETTING[eco]: str(full_in_flight)}
        )
        full = run_ssc(full_env, "update", eco, "--full", "--concurrency", str(full_in_flight))
        # The old system, on the graph as it was before ssc's update, without latency (its
        # requests are sequential: its wall with latency is requests x the mean latency).
        served.stop()
        served = serve(eco, n, latency=(0.0, 0.0))
        served.advance_day()
        old = OldPipeline(eco, served, snapshot / "graph.sqlite")
        started = time.monotonic()
        old.update()
        old_cpu_wall = time.monotonic() - started
        old.close()
    finally:
        served.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(work.parent / (work.name + "-before-full"), ignore_errors=True)
    print(f"## Daily update at 1 % churn: {eco}, {n:,} packages ({len(changed)} changed)\n")
    print(
        f"(graph built in {built['_wall_s']:.0f} s; requests by kind in the update: "
        f"{json.dumps(feed)})\n"
    )
    print("| run | requests | wall (s) | wall under the limits (s) |")
    print("|---|---:|---:|---:|")
    print(
        f"| ssc update, limits on, latency 50-100 ms | {limited['requests']:,} "
        f"| {limited['_wall_s']:.0f} | {limited['_wall_s']:.0f} (measured) |"
    )
    print(
        f"| ssc update, limits on, import names not re-read | {no_imports['requests']:,} "
        f"| {no_imports['_wall_s']:.0f} | {no_imports['_wall_s']:.0f} (measured) |"
    )
    print(
        f"| ssc update --full (re-crawl), limits lifted, {full_in_flight} in flight | {full['requests']:,} "
        f"| {full['_wall_s']:.0f} | {full['requests'] / rate:,.0f} (requests / {rate:g} req/s) |"
    )
    old_wall = old.requests * 0.075 + old_cpu_wall
    print(
        f"| old pattern (every package again, sequential) | {old.requests:,} "
        f"| {old_cpu_wall:.0f} without latency | {old_wall:,.0f} (x 75 ms each, sequential) |"
    )
    print(
        f"\nupdate / re-crawl requests: {limited['requests'] / full['requests']:.4f}; "
        f"old / ssc requests: **{old.requests / limited['requests']:.0f}x**, "
        f"**{old.requests / no_imports['requests']:.0f}x** without re-reading import names "
        "(target >= 100x)\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    upd = sub.add_parser("update")
    upd.add_argument("--ecosystem", default="npm")
    upd.add_argument("--packages", type=int, default=10_000)
    upd.add_argument("--graph", type=Path, help="a graph kept by bench_scale_ingest.py --keep")
    upd.add_argument("--full-in-flight", type=int, default=48, help="in flight for the re-crawl")
    old = sub.add_parser("oldsystem")
    old.add_argument("--ecosystem", default="pypi")
    old.add_argument("--packages", type=int, default=100_000)
    old.add_argument("--sample", type=int, default=200)
    old.add_argument("--in-flight", type=int, default=32)
    args = parser.parse_args()
    assert REPO.exists()
    if args.mode == "update":
        update(args.ecosystem, args.packages, args.graph, args.full_in_flight)
    else:
        oldsystem(args.ecosystem, args.packages, args.sample, args.in_flight)


if __name__ == "__main__":
    main()
