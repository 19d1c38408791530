"""Where the conformance tests look for ../shared/fixtures/real, and SSC_TEST_REAL_FIXTURES."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

_SHOW = (
    "from tests.conftest import SHARED_FIXTURES, real_fixtures;"
    "print(SHARED_FIXTURES); print(len(real_fixtures('pypi')))"
)


def _located(extra: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "SSC_TEST_REAL_FIXTURES"}
    env.update(PYTHONPATH=str(REPO), **extra)
    out = subprocess.run(
        [sys.executable, "-c", _SHOW], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_beside_the_checkout_by_default_elsewhere_by_setting(tmp_path: Path) -> None:
    assert _located({})[0] == str(REPO.parent / "shared" / "fixtures" / "real")
    (tmp_path / "pypi").mkdir()
    (tmp_path / "pypi" / "requests.json").write_text("{}")
    assert _located({"SSC_TEST_REAL_FIXTURES": str(tmp_path)}) == [str(tmp_path), "1"]
