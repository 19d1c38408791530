"""`ssc --help`, `ssc graph show --help` and `ssc graph show` load no driver, HTTP client, version
or licence library, and an ingest none of the drivers before its first request (issue 8): the
heavy modules are imported inside the commands that use them, when they use them.

Asserted on the modules loaded, not on time, so a busy machine cannot make it flaky.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fresh_python import last_json, run_fresh

HEAVY = ("redis", "neo4j", "httpx", "pymongo", "univers", "cvss", "license_expression", "pydantic")
# What a command that reads settings loads anyway (pydantic-settings is built on pydantic).
SETTINGS = ("pydantic",)

# Runs the real entry point (ssc_cli.cli.app:main, as the `ssc` script does) in a fresh
# interpreter and prints the top-level names of the heavy modules it loaded.
PROBE = """
import json, sys
sys.argv = ["ssc", *json.loads(sys.argv[1])]
from ssc_cli.cli.app import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))
print(json.dumps({{"exit": code, "loaded": loaded, "modules": sorted(sys.modules)}}))
"""


_LEAKY = ("SSC_", "GRAPH_DB_", "VULN_DB_", "REDIS_")  # settings of the developer's own shell


def _loaded_by(*args: str, home: Path | None = None) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if home is not None:  # a command that runs: its own data dir, the embedded SQLite graph
        env = {k: v for k, v in env.items() if not k.startswith(_LEAKY)}
        env |= {"SSC_DATA_DIR": str(home / "data"), "SSC_CACHE_DIR": str(home / "cache")}
    result = run_fresh(PROBE.format(heavy=HEAVY), json.dumps(list(args)), env=env, cwd=home or REPO)
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = last_json(result)
    return data


@pytest.mark.parametrize(
    "args", [("--help",), ("graph", "--help"), ("graph", "show", "--help"), ("ingest", "--help")]
)
def test_help_loads_no_heavy_module(args: tuple[str, ...]) -> None:
    # No pydantic either: typer's converters for the options left out are never built
    # (ssc_cli/cli/lazy_coercion.py).
    data = _loaded_by(*args)
    assert data["exit"] == 0
    assert data["loaded"] == [], f"`ssc {' '.join(args)}` imported {data['loaded']}"


# Not loaded by `ssc graph show` (fourth round of issue 8): asyncio's own code and what it brings
# (pydantic-settings imports asyncio, ssc_cli/deferred_module.py defers it), packaging (a PyPI
# name is normalised without it, models.pep503_name), and no HTTP layer, registry client, queue,
# vulnerability or licence code of ssc's.
NOT_IN_GRAPH_SHOW = (
    "asyncio.events",
    "asyncio.base_events",
    "ssl",
    "concurrent.futures",
    "packaging",
    "ssc_cli.http",
    "ssc_cli.registries.pypi",
    "ssc_cli.queue",
    "ssc_cli.vulns",
    "ssc_cli.licenses",
    "ssc_cli.pipeline.ingest",
)


def _under(modules: list[str], names: tuple[str, ...]) -> list[str]:
    """The modules that are one of names or a submodule of one."""
    return sorted(m for m in modules for name in names if m == name or m.startswith(f"{name}."))


@pytest.mark.parametrize("ecosystem", ["pypi", "npm"])
def test_graph_show_loads_only_settings_and_the_store(tmp_path: Path, ecosystem: str) -> None:
    # No graph there: exit 2 after reading the settings and opening the SQLite store.
    data = _loaded_by("graph", "show", ecosystem, "Requests_x", home=tmp_path)
    assert data["exit"] == 2
    assert data["loaded"] == list(SETTINGS), data["loaded"]
    modules: list[str] = data["modules"]  # type: ignore[assignment]
    assert "ssc_cli.graph.sqlite" in modules  # it got as far as the store
    assert _under(modules, NOT_IN_GRAPH_SHOW) == []
    # asyncio itself is there: the stand-in pydantic-settings imported, its code not run yet.
    assert "asyncio" in modules


@pytest.mark.parametrize("json_flag", [(), ("--json",)])
def test_graph_show_of_a_package_in_the_graph_loads_none_of_them(
    tmp_path: Path, json_flag: tuple[str, ...]
) -> None:
    # The same with a graph to read: the name normalised (PEP 503), its versions and edges read.
    from ssc_cli.graph.sqlite import SqliteStore
    from tests.graph_stores import pkg, req, ver

    (tmp_path / "data").mkdir()
    store = SqliteStore(tmp_path / "data" / "graph.sqlite")
    store.migrate()
    store.write_packages([pkg("demo-pkg", [ver("1.0", [req("dep", ">=1")])])])
    store.close()
    data = _loaded_by("graph", "show", "pypi", "Demo_Pkg", *json_flag, home=tmp_path)
    assert data["exit"] == 0
    assert _under(data["modules"], NOT_IN_GRAPH_SHOW) == []  # type: ignore[arg-type]


def test_a_locked_job_on_sqlite_loads_no_neo4j_driver(tmp_path: Path) -> None:
    # vulns sync of a local folder takes its job lock (file only: the graph is SQLite) and
    # touches neither the network nor Neo4j (the lease is for bolt:// and neo4j:// graphs).
    (tmp_path / "osv").mkdir()
    data = _loaded_by("vulns", "sync", str(tmp_path / "osv"), home=tmp_path)
    assert data["exit"] == 0
    assert (tmp_path / "data" / "locks" / "vulns-sync.lock").exists()
    assert "neo4j" not in data["loaded"], data["loaded"]


# Runs `ssc ingest` in a fresh interpreter until it opens its first connection (an audit hook on
# socket.connect), then prints every module loaded by then and leaves: nothing listens there.
FIRST_REQUEST = """
import json, os, sys
port = int(os.environ["SSC_PYPI_URL"].rsplit(":", 1)[1])

def at_connect(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple) and args[1][1] == port:
        print(json.dumps(sorted(sys.modules)), flush=True)
        os._exit(0)

sys.addaudithook(at_connect)
sys.argv = ["ssc", "ingest", "pypi", "--limit", "1"]
from ssc_cli.cli.app import main
main()
"""

# Not needed before an ingest's first request: the queue, the other drivers, httpx's own command
# line (click, rich, pygments where click is installed), the CVSS and licence parsers, and
# ssc's classification and vulnerability matching (loaded at the first write or at the end).
NOT_BEFORE_FIRST_REQUEST = (
    "redis",
    "neo4j",
    "pymongo",
    "httpx._main",
    "cvss",
    "license_expression",
    "ssc_cli.queue",
    "ssc_cli.pipeline.classify",
    "ssc_cli.pipeline.checks",
    "ssc_cli.licenses.classify",
    "ssc_cli.vulns.attribute",
    "ssc_cli.vulns.match",
)


def test_ingest_loads_no_driver_before_its_first_request(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a free port; the child leaves when it connects there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY)}
    env |= {
        "PYTHONPATH": str(REPO),
        "SSC_DATA_DIR": str(tmp_path / "data"),
        "SSC_CACHE_DIR": str(tmp_path / "cache"),
        "SSC_PYPI_URL": f"http://127.0.0.1:{port}",
        "SSC_HTTP_RATE_LIMIT": "off",
    }
    result = run_fresh(FIRST_REQUEST, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = last_json(result)
    assert "httpx" in loaded  # the probe saw the first request, not an early exit
    early = sorted(
        m
        for m in loaded
        for heavy in NOT_BEFORE_FIRST_REQUEST
        if m.split(".")[: heavy.count(".") + 1] == heavy.split(".")
    )
    assert early == [], f"loaded before the first request: {early}"


# `import click` fails in this interpreter, as in a plain `pip install ssc`: typer vendors click
# since 0.2x and no longer depends on it (only a test tool here pulls it in).
WITHOUT_CLICK = """
import json, sys
sys.modules["click"] = None
sys.argv = ["ssc", *json.loads(sys.argv[1])]
from ssc_cli.cli.app import main
try:
    main()
except SystemExit as exc:
    print(json.dumps({"exit": exc.code}))
"""


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (("--version",), {}, 0),
        (("status",), {}, 0),
        (("check",), {"SSC_REDIS_URL": "http://localhost:6379"}, 2),
    ],
)
def test_ssc_runs_where_click_is_not_installed(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], expected: int
) -> None:
    result = run_fresh(
        WITHOUT_CLICK,
        json.dumps(list(args)),
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("SSC_")},
            "PYTHONPATH": str(REPO),
            "SSC_DATA_DIR": str(tmp_path / "data"),
            "SSC_CACHE_DIR": str(tmp_path / "cache"),
            **env,
        },
        cwd=tmp_path,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert last_json(result) == {"exit": expected}, result.stderr
