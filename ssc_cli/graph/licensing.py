"""Store-neutral parts of the licence contract: the classification fields and their export."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ssc_cli.models import Verdict

# Properties of a classified package (and of a version whose signals differ), in export order.
LICENSE_FIELDS = (
    "license_expression",
    "license_raw",
    "oss_status",
    "oss_reason",
    "license_ids",
    "license_list_version",
    "classified_at",
)
OSS_STATUSES = ("open_source", "proprietary", "unknown")
UNCLASSIFIED = "unclassified"


def verdict_fields(
    verdict: Verdict | None, list_version: str, classified_at: str
) -> dict[str, Any]:
    """The stored fields of a verdict; None clears them (a version sharing its package's)."""
    if verdict is None:
        return dict.fromkeys(LICENSE_FIELDS)
    return {
        "license_expression": verdict.expression,
        "license_raw": verdict.raw,
        "oss_status": verdict.status,
        "oss_reason": verdict.reason,
        "license_ids": list(verdict.ids),
        "license_list_version": list_version,
        "classified_at": classified_at,
    }


def license_export(row: Mapping[str, Any]) -> dict[str, Any]:
    """The licence fields of an export object: present once classified, absent before."""
    if not row.get("oss_status"):
        return {}
    out = {name: row.get(name) for name in LICENSE_FIELDS}
    out["license_ids"] = list(out["license_ids"] or [])
    return out
