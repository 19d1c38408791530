"""Coverage-guided fuzzing of the parsers with the most branches (issue 15, item 4), with atheris.

    pip install -e '.[fuzz]'        # atheris, a manylinux wheel (CPython 3.8-3.12 on x86-64)
    flock /tmp/ssc-heavy.lock python benchmarks/fuzz_parsers.py TARGET [--seconds S] [--keep DIR]

TARGET: pom, npm, pypi, pep508, osv, nuget-leaf, nuspec (or `all`, one after the other). Each
input goes the way a registry body does: bytes through ssc's own decoding (`HttpResponse.json`
for JSON documents), then the parser and what the pipeline calls on its result. The rule is the
hypothesis tests' (tests/reliability/strategies.py::survives): the only exception allowed out is
ssc's own (`SscError` naming the URL; `InvalidRecord` for OSV records; none at all for PEP 508
lines, which are skipped when unusable). Anything else is a crash: libFuzzer stops, prints the
traceback and writes the input to `crash-<sha1>` in the working directory.

The corpus starts from the hypothesis tests' valid documents and, when ../shared/fixtures/real
is present, the genuine payloads of that ecosystem under 64 KiB. Coverage counts ssc_cli and
packaging (PEP 508) only: pydantic-core and the XML parser are C and not instrumented.
Prints libFuzzer's final figures (executions, cov: edges, ft: features, corpus) per target.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
REAL = REPO.parent / "shared" / "fixtures" / "real"

URL = "http://127.0.0.1:1/victim"
KINDS = frozenset({"runtime", "dev", "peer", "optional"})
TARGETS = ("pom", "npm", "pypi", "pep508", "osv", "nuget-leaf", "nuspec")
# Which genuine payloads seed which target: (folder under REAL, file name pattern).
SEEDS: dict[str, tuple[str, str]] = {
    "pom": ("maven", r"\.(pom|xml)$"),
    "npm": ("npm", r"\.json$"),
    "pypi": ("pypi", r"\.json$"),
    "pep508": ("pypi", r"\.json$"),
    "osv": ("osv", r"\.json$"),
    "nuget-leaf": ("nuget", r"\.json$"),
    "nuspec": ("nuget", r"\.(xml|nuspec)$"),
}


def _completed(coro: Coroutine[Any, Any, Any]) -> Any:
    """The result of a coroutine that never waits (the loaders below answer at once)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise AssertionError("the coroutine waited on something")


def targets() -> dict[str, Callable[[bytes], None]]:
    """The fuzz targets, importing ssc_cli under atheris' instrumentation."""
    import atheris

    with atheris.instrument_imports(include=["ssc_cli", "packaging"]):
        from ssc_cli.http import HttpResponse
        from ssc_cli.models import Ecosystem
        from ssc_cli.registries.maven import pom
        from ssc_cli.registries.npm import packument
        from ssc_cli.registries.nuget import parse as nuget
        from ssc_cli.registries.pypi import parse as pypi
        from ssc_cli.vulns import match, severity
        from ssc_cli.vulns.ecosystems import from_osv, is_defined
        from ssc_cli.vulns.interface import InvalidRecord, parse_advisory
        from ssc_cli.vulns.osv import record_packages
    from tests.reliability.strategies import survives

    def decoded(data: bytes) -> Any:
        return HttpResponse(URL, 200, {}, data).json()

    def fuzz_pom(data: bytes) -> None:
        model = survives(lambda: pom.parse_pom(data, URL), URL)
        if model is None:
            return

        async def loader(ref: Any) -> Any:
            return model  # every parent and BOM is this POM again: cycles, depth, merging

        effective = _completed(pom.Resolver(loader).effective(model))
        pom.repository_candidates(effective)
        for dep in model.dependencies:
            pom.interpolate(dep.version, model.properties)

    def fuzz_npm(data: bytes) -> None:
        doc = survives(lambda: decoded(data), URL)
        if doc is None:
            return
        record = survives(lambda: packument.parse_packument(doc, "victim", KINDS, url=URL), URL)
        if record is not None:
            assert all(isinstance(v.name, str) for v in record.versions)
        if isinstance(doc, dict):
            versions = doc.get("versions")
            packument.newest_version(versions if isinstance(versions, dict) else {})
            packument.import_version(doc)
            packument.is_unpublished(doc)
            rev = doc.get("_rev")
            packument.rev_generation(rev if isinstance(rev, str) else None)

    def fuzz_pypi(data: bytes) -> None:
        for content_type in ("application/vnd.pypi.simple.v1+json", "text/html"):
            survives(lambda t=content_type: pypi.parse_simple_listing(data, t, URL), URL)
            survives(lambda t=content_type: pypi.parse_simple_project(data, t, URL), URL)
        doc = survives(lambda: decoded(data), URL)
        if doc is None:
            return
        project = survives(lambda: pypi.parse_project(doc, URL), URL)
        if project is not None:
            pypi.requirements(project.info.requires_dist)
            pypi.license_signals(project.info)
            pypi.repository_url(project.info)
            for files in project.releases.values():
                pypi.release_date(files)

    def fuzz_pep508(data: bytes) -> None:
        lines = data.decode("utf-8", errors="surrogateescape").splitlines()
        for requirement in pypi.requirements(lines):
            assert requirement.name
            pypi.securechain_constraints(requirement.raw_constraints or "")

    def fuzz_osv(data: bytes) -> None:
        raw = survives(lambda: decoded(data), URL)
        if raw is None:
            return
        try:
            advisory = parse_advisory(raw)
        except InvalidRecord:
            return
        # As `ssc vulns sync`: a record naming an ecosystem OSV does not define is refused.
        if any(
            a.package is not None and not is_defined(a.package.ecosystem) for a in advisory.affected
        ):
            return
        record_packages(advisory)
        severity.rejected_vectors(advisory)
        scored = severity.score(advisory)
        severity.version_vulns([(advisory, scored)])
        for entry in advisory.affected:
            ecosystem = from_osv(entry.package.ecosystem) if entry.package else None
            if isinstance(ecosystem, Ecosystem) and entry.package is not None:
                versions = ["0", "1.0.0", "2.0", "1.0.0-rc.1", "x", *entry.versions[:5]]
                match.affected_versions(advisory, ecosystem, entry.package.name, versions)

    def fuzz_nuget_leaf(data: bytes) -> None:
        doc = survives(lambda: decoded(data), URL)
        if doc is None:
            return
        item = survives(lambda: nuget.leaf_item(doc, URL), URL)
        if item is not None:
            nuget.version_record(doc, KINDS)
            nuget.leaf_repository(doc)
            nuget.release_date(doc)
            nuget.deprecation(doc)
            nuget.license_signals(doc)
            nuget.is_listed(doc)
        survives(lambda: nuget.parse_catalog_page(doc, URL), URL)
        survives(lambda: nuget.parse_catalog_index(doc, URL), URL)
        survives(lambda: nuget.parse_registration_page(doc, URL), URL)
        survives(lambda: nuget.parse_registration_index(doc, URL), URL)
        survives(lambda: nuget.parse_service_index(doc, URL), URL)

    def fuzz_nuspec(data: bytes) -> None:
        survives(lambda: nuget.parse_nuspec(data, URL), URL)

    return {
        "pom": fuzz_pom,
        "npm": fuzz_npm,
        "pypi": fuzz_pypi,
        "pep508": fuzz_pep508,
        "osv": fuzz_osv,
        "nuget-leaf": fuzz_nuget_leaf,
        "nuspec": fuzz_nuspec,
    }


def seed_corpus(target: str, folder: Path) -> int:
    """Write the target's starting inputs into folder; how many."""
    from tests.registries.maven.test_hostile import POM
    from tests.registries.npm.test_hostile import VALID as PACKUMENT
    from tests.registries.nuget.test_hostile import LEAF, NUSPEC, PAGE
    from tests.registries.pypi.test_hostile import VALID as PROJECT

    osv = {
        "id": "GHSA-xxxx-yyyy-zzzz",
        "modified": "2024-01-01T00:00:00Z",
        "aliases": ["CVE-2024-0001"],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "victim"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}
                ],
                "versions": ["1.0.0"],
            }
        ],
    }
    filled = {"pom": POM, "nuspec": NUSPEC}
    own: list[bytes] = {
        "pom": [],
        "npm": [json.dumps(PACKUMENT).encode()],
        "pypi": [json.dumps(PROJECT).encode()],
        "pep508": ["\n".join(PROJECT["info"]["requires_dist"]).encode()],
        "osv": [json.dumps(osv).encode()],
        "nuget-leaf": [json.dumps(LEAF).encode(), json.dumps(PAGE).encode()],
        "nuspec": [],
    }[target]
    if target in filled:
        own.append(filled[target].replace("{}", "x").encode())
    subdir, pattern = SEEDS[target]
    real = sorted(
        p
        for p in (REAL / subdir).rglob("*")
        if p.is_file() and re.search(pattern, p.name) and p.stat().st_size < 65_536
    )
    inputs = own + [p.read_bytes() for p in real]
    if target == "pep508":  # the Requires-Dist lines of the genuine JSON documents
        inputs = own + [_requires_dist(blob) for blob in inputs[len(own) :]]
    folder.mkdir(parents=True, exist_ok=True)
    for number, blob in enumerate(inputs):
        (folder / f"seed-{number:03d}").write_bytes(blob)
    return len(inputs)


def _requires_dist(blob: bytes) -> bytes:
    try:
        lines = json.loads(blob)["info"]["requires_dist"] or []
    except (ValueError, KeyError, TypeError):
        return b""
    return "\n".join(str(line) for line in lines).encode()


def child(target: str, argv: list[str]) -> None:
    """Run one target under libFuzzer (argv: libFuzzer's flags and corpus folders)."""
    import atheris

    sys.setrecursionlimit(1_000)  # CPython's default, whatever the parent had
    chosen = targets()[target]
    atheris.Setup([sys.argv[0], *argv], chosen)
    atheris.Fuzz()


_FINAL = re.compile(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)/(\S+)")
_STAT = re.compile(r"stat::(\w+):\s+(\d+)")


def run(target: str, seconds: int, work: Path) -> dict[str, Any]:
    """One target for about `seconds`; libFuzzer's final figures, and the crash if any."""
    corpus = work / f"corpus-{target}"
    seeds = seed_corpus(target, corpus)
    command = [
        sys.executable,
        __file__,
        "--child",
        target,
        f"-max_total_time={seconds}",
        "-max_len=65536",
        "-rss_limit_mb=2048",
        "-timeout=10",
        "-print_final_stats=1",
        f"-artifact_prefix={work}/",
        str(corpus),
    ]
    done = subprocess.run(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=work, check=False
    )
    log = done.stdout
    (work / f"{target}.log").write_text(log)
    final = _FINAL.search(log)
    stats = dict(_STAT.findall(log))
    crash = re.search(r"(?ms)=== Uncaught Python exception: ===$(.*?)^==\d+== ERROR", log)
    return {
        "target": target,
        "seeds": seeds,
        "exit": done.returncode,
        "executions": int(stats.get("number_of_executed_units", final.group(1) if final else 0)),
        "seconds": int(stats.get("total_time", seconds)),
        "cov": int(final.group(2)) if final else None,
        "ft": int(final.group(3)) if final else None,
        "corpus": f"{final.group(4)}/{final.group(5)}" if final else None,
        "crash": crash.group(1).strip() if crash else None,
        "artifacts": sorted(p.name for p in work.glob("crash-*")),
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", choices=[*TARGETS, "all"])
    parser.add_argument("--seconds", type=int, default=180, help="per target (180)")
    parser.add_argument("--keep", type=Path, help="keep corpora, logs and crashes here")
    args = parser.parse_args()
    try:
        import atheris  # noqa: F401
    except ImportError:
        raise SystemExit(
            "atheris is not installed: pip install -e '.[fuzz]' (wheels for Linux x86-64 only; "
            "elsewhere it builds from source and needs clang with libFuzzer)"
        ) from None
    chosen = list(TARGETS) if args.target == "all" else [args.target]
    work = args.keep or Path(tempfile.mkdtemp(prefix="ssc-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"atheris, {args.seconds} s per target, {os.cpu_count()} CPUs (shared); work in {work}\n")
    print("| target | seeds | executions | exec/s | cov (edges) | ft (features) | corpus | crash |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    crashed = False
    for target in chosen:
        r = run(target, args.seconds, work)
        rate = r["executions"] / max(1, r["seconds"])
        first = r["crash"].splitlines()[-1] if r["crash"] else "none"
        print(
            f"| {target} | {r['seeds']} | {r['executions']:,} | {rate:,.0f} | {r['cov']} "
            f"| {r['ft']} | {r['corpus']} | {first} |",
            flush=True,
        )
        if r["crash"]:
            crashed = True
            print(f"\n{target}: {r['crash']}\n(inputs: {r['artifacts']})\n", file=sys.stderr)
    raise SystemExit(1 if crashed else 0)


if __name__ == "__main__":
    main()
