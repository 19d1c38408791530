"""What crates.io accepts as a crate name: letters, digits, _ and -, at most 64."""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_RULE = "letters, digits, _ and -, at most 64"


def problem(name: str) -> str | None:
    """Why `name` can be no package of this registry, or None when it can be one."""
    if not _NAME.fullmatch(name):
        return f"not a cargo package name ({_RULE}): {name[:200]!r}"
    return None
