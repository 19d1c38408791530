"""The real SPDX list 3.28.0 of ../shared/fixtures/real/spdx, and lists derived from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ssc_cli.licenses.classify import Classifier
from ssc_cli.licenses.index import LicenseIndex
from ssc_cli.licenses.spdx import LicenseList, read_local
from tests.conftest import SHARED_FIXTURES, require_real_fixtures

SPDX_DIR = SHARED_FIXTURES / "spdx"
VERSION = "3.28.0"


def real_list() -> LicenseList:
    require_real_fixtures("spdx")
    return read_local(str(SPDX_DIR))


def real_classifier() -> Classifier:
    lst = real_list()
    return Classifier(LicenseIndex(lst.records, lst.version))


def raw_files() -> tuple[dict[str, Any], dict[str, Any]]:
    require_real_fixtures("spdx")
    licenses = json.loads((SPDX_DIR / "licenses.json").read_text(encoding="utf-8"))
    exceptions = json.loads((SPDX_DIR / "exceptions.json").read_text(encoding="utf-8"))
    return licenses, exceptions


def write_list(
    folder: Path,
    *,
    version: str = VERSION,
    add: list[dict[str, Any]] | None = None,
    keep: int | None = None,
    drop_osi: bool = False,
) -> Path:
    """A copy of the real list: another version, licences added, only the first `keep`, or
    every OSI flag cleared."""
    licenses, exceptions = raw_files()
    items = list(licenses["licenses"])
    if keep is not None:
        items = items[:keep]
    if drop_osi:
        items = [{**item, "isOsiApproved": False} for item in items]
    items += add or []
    licenses = {**licenses, "licenseListVersion": version, "licenses": items}
    exceptions = {**exceptions, "licenseListVersion": version}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "licenses.json").write_text(json.dumps(licenses), encoding="utf-8")
    (folder / "exceptions.json").write_text(json.dumps(exceptions), encoding="utf-8")
    return folder


# A licence a newer list could add: an id 3.28.0 does not have, OSI-approved.
NEW_LICENSE = {
    "reference": "https://spdx.org/licenses/Example-Open-1.0.html",
    "isDeprecatedLicenseId": False,
    "detailsUrl": "https://spdx.org/licenses/Example-Open-1.0.json",
    "referenceNumber": 999,
    "name": "Example Open License 1.0",
    "licenseId": "Example-Open-1.0",
    "seeAlso": ["https://example.org/licenses/open-1.0"],
    "isOsiApproved": True,
}
