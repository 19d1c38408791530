"""NuGet licence signals: `licenseExpression`, else the `licenseFile` of `<license type="file">`,
else `licenseUrl` (deprecated): licenses.nuget.org/<expression> is an expression, the
deprecateLicenseUrl and nuget.org/packages/<id>/<version>/license pages point at a licence
file, anything else is looked up among known licence URLs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from ssc_cli.licenses.signals import text_of
from ssc_cli.models import LicenseEvidence, LicenseTerm

_PACKAGE_LICENSE_PAGE = re.compile(r"^/packages/[^/]+/[^/]+/license/?$", re.IGNORECASE)


def url_term(url: str) -> LicenseTerm:
    """What a licenseUrl says."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return LicenseTerm("url", url)
    host = (parts.hostname or "").lower()
    if host == "licenses.nuget.org" and parts.path.strip("/"):
        return LicenseTerm("text", unquote(parts.path.strip("/")))
    if host == "aka.ms" and parts.path.strip("/").lower() == "deprecatelicenseurl":
        return LicenseTerm("marker", "see-license-file")
    if host in ("www.nuget.org", "nuget.org") and _PACKAGE_LICENSE_PAGE.match(parts.path):
        return LicenseTerm("marker", "see-license-file")
    return LicenseTerm("url", url)


def evidence(signals: Mapping[str, Any]) -> LicenseEvidence:
    expression = text_of(signals.get("licenseExpression"))
    if expression:
        if expression.upper() == "UNLICENSED":
            return LicenseEvidence(LicenseTerm("marker", "marker-unlicensed"), expression)
        return LicenseEvidence(LicenseTerm("text", expression), expression)
    licence_file = text_of(signals.get("licenseFile"))
    if licence_file:
        return LicenseEvidence(LicenseTerm("marker", "see-license-file"), licence_file)
    url = text_of(signals.get("licenseUrl"))
    if url:
        return LicenseEvidence(url_term(url), url)
    return LicenseEvidence(None)


def is_prerelease(version: str) -> bool:
    return "-" in version.split("+", 1)[0]
