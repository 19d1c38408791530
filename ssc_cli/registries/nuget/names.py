"""What NuGet accepts as a package id: letters, digits and . _ -, at most 100."""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_RULE = "letters, digits and . _ -, at most 100"


def problem(name: str) -> str | None:
    """Why `name` can be no package of this registry, or None when it can be one."""
    if not _NAME.fullmatch(name):
        return f"not a nuget package name ({_RULE}): {name[:200]!r}"
    return None
