"""What Maven accepts as a package: groupId:artifactId, each of [A-Za-z0-9_.-]."""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z0-9_.\-]+:[A-Za-z0-9_.\-]+")
_RULE = "group:artifact, each of letters, digits and . _ -"


def problem(name: str) -> str | None:
    """Why `name` can be no package of this registry, or None when it can be one."""
    if not _NAME.fullmatch(name):
        return f"not a maven package name ({_RULE}): {name[:200]!r}"
    return None
