"""PyPI in OSV records: the ecosystem string, PEP 503 names, and osv.dev's version order.

osv.dev orders PyPI versions with `packaging_legacy.version.parse` (osv/ecosystems/pypi.py): a
PEP 440 version compares as `packaging` says, anything else is a LegacyVersion that sorts before
every valid one. Its enumeration of affected versions is the reference the matcher must agree
with, so legacy versions are ordered, never "unparseable", exactly as there.
"""

from __future__ import annotations

import re
from typing import Any

from packaging_legacy.version import parse

OSV_ECOSYSTEM = "PyPI"
_SEPARATORS = re.compile(r"[-_.]+")


def match_name(name: str) -> str:
    """PEP 503: the only name osv.dev itself normalises."""
    return _SEPARATORS.sub("-", name.strip()).lower()


def version_key(version: str) -> Any:
    """A key ordered as osv.dev orders PyPI versions (legacy ones first)."""
    return parse(version)
