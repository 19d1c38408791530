"""`ssc --help` and `ssc graph show --help` load no driver, HTTP client or version library
(issue 8): the heavy modules are imported inside the commands that use them.

Asserted on the modules loaded, not on time, so a busy machine cannot make it flaky.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

HEAVY = ("redis", "neo4j", "httpx", "pymongo", "univers")

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
print(json.dumps({{"exit": code, "loaded": loaded}}))
"""


def _loaded_by(*args: str, home: Path | None = None) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if home is not None:  # a command that runs: its own data dir, the embedded SQLite graph
        env = {k: v for k, v in env.items() if not k.startswith(("SSC_", "GRAPH_DB_"))}
        env |= {"SSC_DATA_DIR": str(home / "data"), "SSC_CACHE_DIR": str(home / "cache")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), json.dumps(list(args))],
        capture_output=True,
        text=True,
        env=env,
        cwd=home or REPO,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


@pytest.mark.parametrize("args", [("--help",), ("graph", "show", "--help")])
def test_help_loads_no_heavy_module(args: tuple[str, ...]) -> None:
    data = _loaded_by(*args)
    assert data["exit"] == 0
    assert data["loaded"] == [], f"`ssc {' '.join(args)}` imported {data['loaded']}"


def test_a_locked_job_on_sqlite_loads_no_neo4j_driver(tmp_path: Path) -> None:
    # vulns sync of a local folder takes its job lock (file only: the graph is SQLite) and
    # touches neither the network nor Neo4j (the lease is for bolt:// and neo4j:// graphs).
    (tmp_path / "osv").mkdir()
    data = _loaded_by("vulns", "sync", str(tmp_path / "osv"), home=tmp_path)
    assert data["exit"] == 0
    assert (tmp_path / "data" / "locks" / "vulns-sync.lock").exists()
    assert "neo4j" not in data["loaded"], data["loaded"]


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
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_CLICK, json.dumps(list(args))],
        capture_output=True,
        text=True,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("SSC_")},
            "PYTHONPATH": str(REPO),
            "SSC_DATA_DIR": str(tmp_path / "data"),
            "SSC_CACHE_DIR": str(tmp_path / "cache"),
            **env,
        },
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"exit": expected}, result.stderr
