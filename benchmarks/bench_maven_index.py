"""Peak memory and speed of reading a Maven Indexer chunk: ssc's on-disk collapse vs a Python set.

    python benchmarks/bench_maven_index.py [--records 1000000] [--artifacts 100000]

Writes a synthetic full chunk in the real transport format (tests' writer), then reads it in
two fresh subprocesses side by side: (1) ssc's LocalIndex.build + streaming the distinct g:a
names, (2) the naive way (every GAV in a Python set). Reports each child's peak RSS (ru_maxrss)
and time, and the ratio. Issue 4 target: peak RSS < 300 MB for >= 1,000,000 GAV records.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ssc_cli.registries.maven.indexer import (  # noqa: E402
    artifact_events,
    artifact_record,
    iter_records,
    open_chunk,
    write_chunk,
)
from ssc_cli.registries.maven.local_index import LocalIndex  # noqa: E402

TARGET_MB = 300


def synthetic_records(records: int, artifacts: int, seed: int = 7) -> Iterator[dict[str, str]]:
    """Central-like: groups of artifacts, many versions, a sources jar for one version in five."""
    rng = random.Random(seed)
    yield {"DESCRIPTOR": "NexusIndex", "IDXINFO": "1.0|central"}
    per_artifact = max(1, records // artifacts)
    written = 0
    for n in range(artifacts):
        group = f"org.bench{n % 997}.sub{n % 13}"
        for v in range(per_artifact):
            when = 1_400_000_000_000 + rng.randrange(10**11)
            yield artifact_record(
                group, f"artifact-{n}", f"{v // 10}.{v % 10}.{n % 7}", modified_ms=when
            )
            written += 1
            if v % 5 == 0:
                yield artifact_record(
                    group,
                    f"artifact-{n}",
                    f"{v // 10}.{v % 10}.{n % 7}",
                    modified_ms=when + 9,
                    classifier="sources",
                )
                written += 1
            if written >= records:
                return


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(mode: str, chunk: Path, workdir: Path) -> dict[str, float]:
    """Runs inside the child process."""
    started = time.perf_counter()
    if mode == "ssc":
        index = LocalIndex(workdir / "index.sqlite")
        stats = index.build(chunk, None)
        names = sum(1 for _ in index.names())
        index.close()
        result = {"records": stats.records, "versions": stats.versions, "names": names}
    else:
        gavs: set[tuple[str, str, str]] = set()
        records = 0
        with open_chunk(chunk) as raw:
            for event in artifact_events(iter_records(raw, str(chunk))):
                records += 1
                gavs.add((event.group_id, event.artifact_id, event.version))
        names = len({f"{g}:{a}" for g, a, _ in gavs})
        result = {"records": records, "versions": len(gavs), "names": names}
    result["seconds"] = round(time.perf_counter() - started, 2)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 2)
    result["peak_rss_mb"] = round(peak_mb(), 1)
    return result


def child(mode: str, chunk: Path, workdir: Path) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--chunk",
            str(chunk),
            "--workdir",
            str(workdir),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--artifacts", type=int, default=100_000)
    parser.add_argument("--child", choices=["ssc", "naive"])
    parser.add_argument("--chunk", type=Path)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.chunk, args.workdir)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        chunk = work / "nexus-maven-repository-index.gz"
        started = time.perf_counter()
        with chunk.open("wb") as out:
            written = write_chunk(
                out, synthetic_records(args.records, args.artifacts), timestamp_ms=1_700_000_000_000
            )
        print(
            f"chunk: {written - 1:,} GAV records, {chunk.stat().st_size / 1e6:.1f} MB gzip, "
            f"written in {time.perf_counter() - started:.1f}s"
        )
        root = str(Path(__file__).resolve().parents[1])
        probe = (
            f"import json, resource, sys; sys.path.insert(0, {root!r}); "
            "import ssc_cli.registries.maven.indexer; "
            "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))"
        )
        baseline = json.loads(
            subprocess.run(
                [sys.executable, "-c", probe], check=True, capture_output=True, text=True
            ).stdout
        )
        ssc = child("ssc", chunk, work)
        naive = child("naive", chunk, work)
        print(f"interpreter + imports baseline: {baseline:.1f} MB")
        for label, result in (("ssc (SQLite on disk)", ssc), ("naive (Python set)  ", naive)):
            rate = result["records"] / result["cpu_seconds"] if result["cpu_seconds"] else 0
            print(
                f"{label}: peak RSS {result['peak_rss_mb']:7.1f} MB, {result['seconds']:6.2f}s wall, "
                f"{result['cpu_seconds']:6.2f}s CPU ({rate:,.0f} records/CPU-s), "
                f"{result['versions']:,} versions, {result['names']:,} g:a"
            )
        assert ssc["names"] == naive["names"] and ssc["versions"] == naive["versions"]
        print(
            f"ratio naive/ssc: peak RSS x{naive['peak_rss_mb'] / ssc['peak_rss_mb']:.2f}, "
            f"CPU time x{naive['cpu_seconds'] / ssc['cpu_seconds']:.2f}"
        )
        verdict = "PASS" if ssc["peak_rss_mb"] < TARGET_MB else "FAIL"
        print(f"target peak RSS < {TARGET_MB} MB for {written - 1:,} records: {verdict}")
        if verdict == "FAIL":
            sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
