"""What RubyGems accepts as a gem name: letters, digits and . _ -."""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_RULE = "letters, digits and . _ -"


def problem(name: str) -> str | None:
    """Why `name` can be no package of this registry, or None when it can be one."""
    if not _NAME.fullmatch(name):
        return f"not a rubygems package name ({_RULE}): {name[:200]!r}"
    return None
