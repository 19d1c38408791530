"""SQLite reads: errors converted where they leave the store, and bounded IN (...) chunks."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ssc_cli.errors import GraphUnavailable

_CHUNK = 500  # bound on host parameters per IN (...) query


class _HasPath(Protocol):
    path: Path


F = TypeVar("F", bound=Callable[..., Any])
G = TypeVar("G", bound=Callable[..., Iterator[Any]])


def _unusable(store: _HasPath, exc: sqlite3.Error) -> GraphUnavailable:
    return GraphUnavailable(
        f"cannot read the SQLite graph {store.path}: {exc}; check the file (and SSC_GRAPH_URI)"
    )


def reading(method: F) -> F:
    """A read whose sqlite3 errors (corrupt file, I/O error) leave as GraphUnavailable (exit 5)."""

    @functools.wraps(method)
    def wrapper(self: _HasPath, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _unusable(self, exc) from exc

    return wrapper  # type: ignore[return-value]


def reading_rows(method: G) -> G:
    """reading for a method that yields rows."""

    @functools.wraps(method)
    def wrapper(self: _HasPath, *args: Any, **kwargs: Any) -> Iterator[Any]:
        try:
            yield from method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _unusable(self, exc) from exc

    return wrapper  # type: ignore[return-value]


def chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
