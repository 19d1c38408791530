"""docs/operations.md, tried as a new operator would: every runbook block run in order, as one
shell session, with the embedded default, fake registries on 127.0.0.1 and a private Redis."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.conftest import REPO, Ssc, require_real_fixtures
from tests.deploy.manifests import (
    KUBERNETES,
    crontab_entries,
    documents,
    pod_spec,
    render,
    ssc_command,
)
from tests.deploy.runbook import OPERATIONS, Block, blocks, exit_codes, ssc_args
from tests.fakeregistry import cargo, nuget, pypi, rubygems
from tests.fakeregistry.maven import MavenApp
from tests.fakeregistry.npm import NpmApp
from tests.fakeregistry.osv import OsvBucketApp
from tests.fakeregistry.server import FakeRegistry
from tests.fakeregistry.spdx import SpdxApp
from tests.licenses.spdx_data import write_list
from tests.queue.conftest import redis_client, redis_server  # noqa: F401 (fixtures)

ADVISORY = "GHSA-9wx4-h78v-vm56"
RUNBOOK = [b for b in blocks() if b.kind == "runbook"]
STATIC = [b for b in blocks() if b.kind == "static"]

# A small PyPI whose names read like the real one's, and whose listing, like the real one's,
# holds more names before `requests` than the runbook's sample takes: the sample must name what
# the page then shows, not hope the registry lists it first.
_FILLERS = {f"aaa-sample-{n:02}": [] for n in range(30)}
_PROJECTS = {
    **_FILLERS,
    "requests": [
        "urllib3>=1.21.1,<3",
        "idna>=2.5,<4",
        "certifi>=2017.4.17",
        "charset-normalizer>=2,<4",
    ],
    "urllib3": [],
    "idna": [],
    "certifi": [],
    "charset-normalizer": [],
    "pysocks": [],
}


def _registries(fake_registry: FakeRegistry, spdx_folder: Path) -> None:
    app = pypi.PyPIApp()
    for name, requires in _PROJECTS.items():
        app.add(name, repository=f"https://github.com/example/{name}")
        for version in ("1.0.0", "2.0.0"):
            app.release(
                name, version, requires_dist=requires, wheel_modules=[f"{name}/__init__.py"]
            )
    fake_registry.mount("pypi", app)
    NpmApp.synthetic(3).mount(fake_registry)
    fake_registry.mount("maven", MavenApp.synthetic(3))
    fake_registry.mount("nuget", nuget.synthetic(8, page_size=10, commit_size=4))
    cargo.CargoApp.synthetic(3).mount_on(fake_registry)
    fake_registry.mount("rubygems", rubygems.synthetic(3))
    fake_registry.mount("spdx", SpdxApp(write_list(spdx_folder)))
    # osv.dev's bucket: one advisory on the sample's package, fixed in its second release.
    osv = OsvBucketApp()
    osv.put(
        {
            "id": ADVISORY,
            "modified": "2024-05-20T00:00:00Z",
            "aliases": ["CVE-2024-35195"],
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "requests"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}
                    ],
                }
            ],
            "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N"}
            ],
        }
    )
    for folder in ("PyPI", "npm", "Maven", "NuGet", "crates.io", "RubyGems"):
        osv.folders.setdefault(folder, {})  # osv.dev has a folder per ecosystem
    fake_registry.mount("osv", osv)


def _operator(
    ssc: Ssc, fake_registry: FakeRegistry, redis_url: str, tmp_path: Path
) -> dict[str, str]:
    """The operator's shell: ssc on PATH (this checkout), settings only where a machine differs
    from production (registry URLs, directories, Redis); the graph at its default place."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "ssc"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m ssc_cli "$@"\n')
    shim.chmod(0o755)
    env = ssc.environment({"SSC_GRAPH_URI": None})
    env.update(
        {
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(tmp_path / "home"),
            "SSC_DATA_DIR": str(tmp_path / "var-lib-ssc"),
            "SSC_CACHE_DIR": str(tmp_path / "var-cache-ssc"),
            "SSC_REDIS_URL": redis_url,
            "SSC_SPDX_URL": fake_registry.url("spdx") + "/",
            "SSC_OSV_URL": fake_registry.url("osv"),
            "SSC_QUEUE_BLOCK_MS": "100",
        }
    )
    Path(env["HOME"]).mkdir()
    return env


def _script(runbook: list[Block]) -> str:
    """One shell session: stop at the first failing command, say which block it was in."""
    parts = ["set -euo pipefail"]
    for block in runbook:
        parts.append(f"echo '>>> docs/operations.md:{block.line}' >&2")
        parts.append(block.text)
    return "\n".join(parts) + "\n"


@pytest.mark.slow
def test_the_runbook_works_step_by_step(
    ssc: Ssc,
    fake_registry: FakeRegistry,
    redis_server: str,  # noqa: F811
    redis_client: redis.Redis,  # noqa: F811
    tmp_path: Path,
) -> None:
    require_real_fixtures("spdx")
    _registries(fake_registry, tmp_path / "spdx")
    env = _operator(ssc, fake_registry, redis_server, tmp_path)
    # A dead letter for section 6 to find: the request the operator's enqueue would make, for
    # a package the registry does not have, already tried SSC_QUEUE_MAX_ATTEMPTS times.
    message = {"node_type": "PyPIPackage", "package": "no-such-project", "refresh": False}
    redis_client.xadd(
        "package-extraction-dlq",
        {"data": json.dumps(message), "reason": "failed", "error": "404", "attempts": "3"},
    )
    result = subprocess.run(
        ["bash", "-c", _script(RUNBOOK)],
        cwd=env["HOME"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"{result.stderr[-6000:]}\n--- stdout\n{result.stdout[-3000:]}"
    # What the steps left behind, checked as the operator would look at it.
    data = Path(env["SSC_DATA_DIR"])
    graph = sqlite3.connect(data / "graph.sqlite")
    try:
        tables = {r[0] for r in graph.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "cursors" in tables  # section 7 reads it by name
    finally:
        graph.close()
    backup = Path(env["HOME"]) / "ssc" / "backups" / "graph.sqlite"
    assert "ok" in result.stdout.splitlines()  # PRAGMA integrity_check of the backup
    export = subprocess.run(
        [sys.executable, "-m", "ssc_cli", "graph", "export"],
        env=env, capture_output=True, text=True, check=True, cwd=env["HOME"],
    ).stdout  # fmt: skip
    names = {json.loads(line).get("purl") for line in export.splitlines()}
    # The sample: the package it names and, followed, its dependencies; none of the listing's
    # first names.
    for name in ("requests", "urllib3", "charset-normalizer", "idna", "certifi"):
        assert f"pkg:pypi/{name}" in names, name
    assert not {f"pkg:pypi/{name}" for name in _FILLERS} & names
    # The first vulnerability sync and attribution: the advisory is on the affected release.
    advisories = {
        record["purl"]: record["vulnerabilities"]
        for line in export.splitlines()
        if (record := json.loads(line))["type"] == "version"
        and record["purl"].startswith("pkg:pypi/requests@")
    }
    assert ADVISORY in advisories["pkg:pypi/requests@1.0.0"]
    assert ADVISORY not in advisories["pkg:pypi/requests@2.0.0"]
    assert any(str(n).startswith("pkg:nuget/") for n in names)
    backed_up = subprocess.run(
        [sys.executable, "-m", "ssc_cli", "graph", "export"],
        env={**env, "SSC_GRAPH_URI": f"sqlite:///{backup}"},
        capture_output=True, text=True, check=True, cwd=env["HOME"],
    ).stdout  # fmt: skip
    assert backed_up == export  # the backup is the whole graph
    # Then cron: every enabled line of crontab.example, with the env file the page has the
    # operator install as /etc/ssc/ssc.env and crontab.example's own settings (its directories
    # here, as the page's shell had them), but none of the shell's exports of section 1.
    cron_env = {k: v for k, v in env.items() if k != "SSC_REDIS_URL"}
    cron_env["SSC_METRICS_DIR"] = str(data / "metrics")
    env_file = str(Path(env["HOME"]) / "ssc" / "ssc.env")
    redis_client.xadd("package-extraction", {"data": json.dumps({**message, "package": "idna"})})
    ran = {}
    for entry in crontab_entries():
        if not entry["enabled"]:
            continue
        job = subprocess.run(
            [sys.executable, "-m", "ssc_cli", "--env-file", env_file, *entry["args"]],
            env=cron_env, capture_output=True, text=True, cwd=env["HOME"], timeout=300,
        )  # fmt: skip
        assert job.returncode == 0, f"crontab.example:{entry['line']}: {job.stdout[-3000:]}"
        ran[ssc_command(entry["args"])] = json.loads(job.stdout.splitlines()[-1])
    assert ran[("drain-queue", "--until-empty", "--max-messages", "20000")]["total_processed"] == 1
    assert {p.name for p in (data / "metrics").iterdir()} >= {"ssc_update_pypi.prom"}
    # The dead letter was listed, moved back to the stream and drained.
    assert "dead letters package-extraction-dlq: 1 entries" in result.stdout
    assert "queue retry-dead: 1 moved back, 0 kept" in result.stderr + result.stdout
    assert redis_client.xlen("package-extraction-dlq") == 0
    # Section 4's migration step on the embedded default: nothing to migrate, exit 0.
    assert "graph migrate: a SQLite graph has nothing to migrate" in result.stderr
    migrated = [
        json.loads(line)
        for line in result.stdout.splitlines()
        if line.startswith("{") and '"command": "graph migrate"' in line
    ]
    assert [(m["dry_run"], m["graph"], m["migrated"], m["exit_code"]) for m in migrated] == [
        (False, "sqlite", False, 0)
    ]


def test_the_runbook_is_in_an_order_an_operator_can_follow() -> None:
    assert len(RUNBOOK) >= 8
    # Settings first (no ssc command in the first block), then doctor before anything else.
    assert all(ssc_args(words) is None for words in RUNBOOK[0].commands())
    first_ssc = next(a for b in RUNBOOK for c in b.commands() if (a := ssc_args(c)) is not None)
    assert first_ssc[0] == "doctor"


def _every_ssc_command() -> list[list[str]]:
    seen: dict[str, list[str]] = {}
    for block in blocks():
        for words in block.commands():
            args = ssc_args(words)
            if args is not None:
                seen.setdefault(" ".join(args), args)
    return list(seen.values())


def test_the_runbook_runs_as_the_user_that_owns_the_data_dir() -> None:
    """The hand-run steps write the graph, cursors and locks: as the operator (permission
    denied) or as root (files the cron jobs cannot write), the crontab's jobs fail later."""
    owner = cron_user = None
    switched_at = None
    for block in STATIC:
        for words in block.commands():
            if words[:3] == ["sudo", "install", "-d"] and "/var/lib/ssc" in words:
                owner = words[words.index("-o") + 1]
            if words[:2] == ["sudo", "crontab"]:
                cron_user = words[words.index("-u") + 1]
            if words[:2] == ["sudo", "-u"] and switched_at is None:
                switched_at = (block.line, words[2])
    assert owner is not None and owner == cron_user
    assert switched_at is not None, "no step switches to the data dir's owner"
    line, user = switched_at
    assert user == owner
    assert line < RUNBOOK[0].line  # before the first command that writes


@pytest.mark.parametrize("args", _every_ssc_command(), ids=" ".join)
def test_every_ssc_command_of_the_page_exists(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ssc_cli", *args, "--help"],
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_static_blocks_name_what_exists() -> None:
    """Commands that need root, a cluster or a daemon: the files, kustomizations, objects and
    keys they name are the repository's."""
    cronjobs = {
        o["metadata"]["name"]
        for d in ("embedded", "production")
        for o in render(KUBERNETES / d)
        if o["kind"] == "CronJob"
    }
    (example,) = documents(KUBERNETES / "base" / "secret.example.yaml")
    kinds = set()
    for block in STATIC:
        for words in block.commands():
            tool = words[1] if words[0] == "sudo" else words[0]
            kinds.add(tool)
            if tool == "kubectl":
                if "-k" in words:
                    target = REPO / words[words.index("-k") + 1]
                    assert (target / "kustomization.yaml").is_file(), words
                    render(target)
                for word in words:
                    if word.startswith("--from=cronjob/"):
                        assert word.split("/", 1)[1] in cronjobs, word
                    if word.startswith("cronjob/") or word.startswith("ssc-ingest-"):
                        assert word.removeprefix("cronjob/") in cronjobs, word
                if words[1:4] == ["-n", "ssc", "create"] and "secret" in words:
                    name = words[words.index("generic") + 1]
                    key = next(w for w in words if w.startswith("--from-file="))
                    assert name == example["metadata"]["name"]
                    assert key.split("=")[1] in example["stringData"]
            if tool == "docker" and words[1] in ("build", "run"):
                assert any(w.startswith("ssc:") for w in words), words
            if tool == "crontab":
                assert (REPO / words[-1]).is_file()
    assert {"kubectl", "docker", "crontab"} <= kinds
    image = documents(KUBERNETES / "production" / "kustomization.yaml")[0]["images"][0]
    assert f"{image['newName']}:{image['newTag']}" in OPERATIONS.read_text()


def test_the_first_job_in_a_new_cluster_loads_the_graph(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    """The Job the page starts by hand on a new, empty claim comes from an ingest CronJob: the
    update CronJobs' command on an empty graph processes nothing."""
    first = [
        word.split("/", 1)[1]
        for block in STATIC
        for words in block.commands()
        if words[:5] == ["kubectl", "-n", "ssc", "create", "job"]
        for word in words
        if word.startswith("--from=cronjob/")
    ]
    assert first and first[0].startswith("ssc-ingest-"), first
    (update,) = [
        o
        for o in render(KUBERNETES / "embedded")
        if o["kind"] == "CronJob" and o["metadata"]["name"] == "ssc-update-pypi"
    ]
    args = pod_spec(update)["containers"][0]["args"]
    assert args[:2] == ["--env-file", "/etc/ssc/ssc.env"]
    fake_registry.mount("pypi", pypi.synthetic(3))
    summary = ssc.json(*args[2:])
    assert summary["packages_processed"] == 0
    (ingest,) = [
        o
        for o in render(KUBERNETES / "embedded")
        if o["kind"] == "CronJob" and o["metadata"]["name"] == first[0]
    ]
    assert ingest["spec"]["suspend"] is True  # so the page starts it by hand


def test_every_exit_code_has_a_row() -> None:
    """Each code ssc can exit with, as the error tree and the signal handling define them: an
    operator who meets one finds what it means and what to do."""
    text = OPERATIONS.read_text()
    codes = {str(c) for c in {0} | exit_codes()}
    assert {"70", "75"} <= codes
    for code in (*sorted(codes, key=int), "130 / 143"):
        assert f"\n| {code} |" in text, code
