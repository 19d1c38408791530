"""What PyPI accepts as a project name (PEP 508, enforced by PyPI for every project)."""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE)
_RULE = "letters, digits and . _ - inside (PEP 508)"


def problem(name: str) -> str | None:
    """Why `name` can be no package of this registry, or None when it can be one."""
    if not _NAME.fullmatch(name):
        return f"not a pypi package name ({_RULE}): {name[:200]!r}"
    return None
