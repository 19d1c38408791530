"""JSON from bytes anyone can write: nesting too deep to decode is bad JSON like any other."""

from __future__ import annotations

import json
from typing import Any


def loads(data: str | bytes | bytearray) -> Any:
    """json.loads, but `[[[[…` nested past the interpreter's recursion limit (about 1,000 levels:
    a 2 KB body) raises json.JSONDecodeError (a ValueError) instead of RecursionError, which no
    caller expects from a parse (issue 15, found while fuzzing the parsers)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply to decode", "", 0) from None
