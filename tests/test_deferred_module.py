"""ssc_cli/deferred_module.py: a deferred module runs its code at its first use, once, and is then
the module every `import` gets (issue 8: pydantic-settings' asyncio)."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssc_cli.deferred_module import DeferredModule, defer
from tests.conftest import REPO
from tests.fresh_python import last_json, run_fresh

# A package whose code counts its runs in a file beside it, with a submodule and a slow start
# (so two threads can meet in it).
PACKAGE = {
    "__init__.py": """
        import pathlib, time
        runs = pathlib.Path(__file__).with_name("runs")
        runs.write_text(str(int(runs.read_text() or 0) + 1) if runs.exists() else "1")
        time.sleep(0.05)
        from .part import VALUE
        ANSWER = VALUE * 2
    """,
    "part.py": """
        VALUE = 21
    """,
}


@pytest.fixture
def package(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Path]]:
    """A fresh importable package (name, folder), and sys.modules cleaned of it afterwards."""
    name = f"ssc_deferred_probe_{request.node.name.split('[')[0]}"
    folder = tmp_path / name
    folder.mkdir()
    for file, text in PACKAGE.items():
        (folder / file).write_text(textwrap.dedent(text))
    sys.path.insert(0, str(tmp_path))
    try:
        yield name, folder
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[module]


def _runs(folder: Path) -> int:
    runs = folder / "runs"
    return int(runs.read_text()) if runs.exists() else 0


def test_import_returns_the_stand_in_and_the_first_use_runs_the_code_once(
    package: tuple[str, Path],
) -> None:
    name, folder = package
    defer(name)
    module = __import__(name)
    assert isinstance(module, DeferredModule)
    assert _runs(folder) == 0  # imported, not run
    assert module.ANSWER == 42
    assert _runs(folder) == 1
    assert type(module) is types.ModuleType  # from now on a plain module
    assert __import__(name) is module is sys.modules[name]
    assert module.part is sys.modules[f"{name}.part"]
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        module.missing  # noqa: B018
    assert _runs(folder) == 1


def test_importing_a_submodule_first_runs_the_package_first(package: tuple[str, Path]) -> None:
    name, folder = package
    defer(name)
    part = __import__(f"{name}.part", fromlist=["VALUE"])
    assert part.VALUE == 21
    assert _runs(folder) == 1
    assert sys.modules[name].ANSWER == 42


def test_from_import_runs_it(package: tuple[str, Path]) -> None:
    name, folder = package
    defer(name)
    namespace: dict[str, object] = {}
    exec(f"from {name} import ANSWER", namespace)
    assert namespace["ANSWER"] == 42
    assert _runs(folder) == 1


def test_two_threads_using_it_at_once_both_get_the_module_run_once(
    package: tuple[str, Path],
) -> None:
    name, folder = package
    defer(name)
    module = sys.modules[name]
    start = threading.Barrier(2)
    got: list[object] = []

    def use() -> None:
        start.wait()
        got.append(module.ANSWER)

    threads = [threading.Thread(target=use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == [42, 42]
    assert _runs(folder) == 1


def test_a_module_imported_already_is_left_alone(package: tuple[str, Path]) -> None:
    name, folder = package
    module = __import__(name)
    defer(name)
    assert sys.modules[name] is module
    assert type(module) is types.ModuleType
    assert _runs(folder) == 1


def test_code_that_fails_fails_again_at_the_next_import(package: tuple[str, Path]) -> None:
    name, folder = package
    (folder / "part.py").write_text("raise RuntimeError('broken part')\n")
    defer(name)
    module = sys.modules[name]
    with pytest.raises(RuntimeError, match="broken part"):
        module.ANSWER  # noqa: B018
    assert name not in sys.modules  # as after a failed import: not half a module
    with pytest.raises(RuntimeError, match="broken part"):
        __import__(name)


def test_a_name_that_is_no_module_is_ignored() -> None:
    defer("ssc_no_such_module_anywhere")
    assert "ssc_no_such_module_anywhere" not in sys.modules


# After ssc's settings are loaded (which defer asyncio), asyncio works as asyncio: a fresh
# interpreter, as the `ssc` command is.
ASYNCIO_AFTER_SETTINGS = """
import json, sys, types
from ssc_cli.settings import load_settings
load_settings()
before = "asyncio.base_events" in sys.modules
import asyncio
import asyncio.subprocess
from asyncio import Queue

async def main():
    queue = Queue()
    await queue.put(1)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "print(7)", stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    return await queue.get() + int(out)

print(json.dumps({
    "ran_before_use": before,
    "result": asyncio.run(main()),
    "plain": type(sys.modules["asyncio"]) is types.ModuleType,
    "same": sys.modules["asyncio"] is asyncio and asyncio.events is sys.modules["asyncio.events"],
}))
"""


def test_asyncio_works_after_the_settings_deferred_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSC_")}
    env |= {"PYTHONPATH": str(REPO), "SSC_DATA_DIR": str(tmp_path / "data")}
    result = run_fresh(ASYNCIO_AFTER_SETTINGS, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert last_json(result) == {
        "ran_before_use": False,
        "result": 8,
        "plain": True,
        "same": True,
    }
