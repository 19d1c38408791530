"""A script run in a fresh interpreter (no fork server, nothing imported yet), its last stdout
line read as JSON: how the tests see what a new `ssc` process imports and does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_fresh(
    script: str, *args: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """`python -c SCRIPT ARGS...` with this environment and working directory."""
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def last_json(result: subprocess.CompletedProcess[str]) -> Any:
    """The JSON the script printed last."""
    return json.loads(result.stdout.strip().splitlines()[-1])
