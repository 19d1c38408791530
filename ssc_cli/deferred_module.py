"""A module that runs its code when it is first used, not when it is imported (issue 8).

pydantic-settings imports asyncio at the top of its main module for one method ssc never calls
(`CliApp.run` of an async command), and asyncio brings ssl, concurrent.futures and a dozen
submodules: about 20 ms of CPU in each `ssc graph show`, whose settings are all it needs from
pydantic-settings. `defer("asyncio")` before that import puts a stand-in in sys.modules, so
`import asyncio` there (and anywhere later) returns it at once; the first attribute looked up on
it runs asyncio's own code into that same module object, which from then on is asyncio, the one
every later `import asyncio` gets.

The standard library's `importlib.util.LazyLoader` does not serve here on Python 3.11: the import
statement itself reads the module's `__spec__` from sys.modules, and that lookup already loads it.
The stand-in below loads on a lookup of an attribute it does not have yet, and has `__spec__`.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

# Deferred modules not run yet, by name: their __path__ (None for a plain module), held back so
# that importing a submodule (`import asyncio.subprocess`) first runs the package's own code.
_PENDING: dict[str, list[str] | None] = {}
_RUNNING: set[str] = set()
_LOCK = threading.RLock()  # a second thread using the module waits until its code has run


class DeferredModule(types.ModuleType):
    """A module whose code runs at the first lookup of an attribute it does not have yet."""

    def __getattr__(self, attr: str) -> Any:
        name = self.__name__
        with _LOCK:
            if name in _PENDING and name not in _RUNNING:
                _run(self, name)
        if type(self) is DeferredModule:  # its own code is running and has not set attr yet
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        return getattr(self, attr)


def _run(module: DeferredModule, name: str) -> None:
    """Run the module's code into it, then make it a plain module."""
    _RUNNING.add(name)
    try:
        path = _PENDING[name]
        if path is not None:
            module.__path__ = path
        spec = module.__spec__
        assert spec is not None and spec.loader is not None  # defer() found both
        try:
            spec.loader.exec_module(module)
        except BaseException:
            # As the import system does for a module whose code failed: gone from sys.modules,
            # so the next `import` tries again and raises again instead of returning half of it.
            if sys.modules.get(name) is module:
                del sys.modules[name]
            raise
        finally:
            del _PENDING[name]
            module.__class__ = types.ModuleType  # type: ignore[assignment]  # the point
    finally:
        _RUNNING.discard(name)


def defer(name: str) -> None:
    """Put a DeferredModule for `name` in sys.modules, unless `name` is imported already (or is
    not a module of a source or bytecode file, which has nothing to defer)."""
    with _LOCK:
        if name in sys.modules:
            return
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return
        module = importlib.util.module_from_spec(spec)
        _PENDING[name] = module.__dict__.pop("__path__", None)
        module.__class__ = DeferredModule
        sys.modules[name] = module
