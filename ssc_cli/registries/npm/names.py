"""What npm accepts as a package name: URL-safe characters, an optional @scope/ (legacy
names may hold capitals and ~ ' ! ( ) *, so only what no npm name can hold is refused)."""

from __future__ import annotations

import re

_PART = r"[A-Za-z0-9\-_.!~*'()]+"
_NAME = re.compile(rf"(@{_PART}/)?{_PART}")
_RULE = "URL-safe characters, optionally @scope/name, at most 214"


def problem(name: str) -> str | None:
    """Why `name` can be no package of this registry, or None when it can be one."""
    if len(name) > 214 or not _NAME.fullmatch(name):
        return f"not an npm package name ({_RULE}): {name[:200]!r}"
    return None
