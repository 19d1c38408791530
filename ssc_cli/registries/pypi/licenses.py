"""PyPI licence signals: License-Expression (PEP 639), then trove classifiers, then License.

Classifiers map as PEP 639's appendix says: the 14 ambiguous ones name no licence (an OSI
family: open, no expression), the generic "free for ..." ones are proprietary, "OSI Approved"
and "DFSG approved" alone say nothing. When the classifiers and the License field both decide,
they must agree (docs/licenses.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.version import InvalidVersion, Version

from ssc_cli.licenses.signals import text_of
from ssc_cli.models import LicenseEvidence, LicenseGroup, LicenseTerm

_OSI = "License :: OSI Approved :: "

# Unambiguous licence classifiers -> SPDX id (PEP 639: "most single licence classifiers map to
# a single valid SPDX identifier"). Those under "OSI Approved ::" assert OSI approval too.
CLASSIFIER_IDS: dict[str, str] = {
    "License :: Aladdin Free Public License (AFPL)": "Aladdin",
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "License :: CeCILL-B Free Software License Agreement (CECILL-B)": "CECILL-B",
    "License :: CeCILL-C Free Software License Agreement (CECILL-C)": "CECILL-C",
    "License :: Nokia Open Source License (NOKOS)": "Nokia",
    _OSI + "Attribution Assurance License": "AAL",
    _OSI + "Blue Oak Model License (BlueOak-1.0.0)": "BlueOak-1.0.0",
    _OSI + "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    _OSI + "CEA CNRS Inria Logiciel Libre License, version 2.1 (CeCILL-2.1)": "CECILL-2.1",
    _OSI + "CMU License (MIT-CMU)": "MIT-CMU",
    _OSI + "Common Development and Distribution License 1.0 (CDDL-1.0)": "CDDL-1.0",
    _OSI + "Common Public License": "CPL-1.0",
    _OSI + "Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
    _OSI + "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    _OSI + "Educational Community License, Version 2.0 (ECL-2.0)": "ECL-2.0",
    _OSI + "Eiffel Forum License": "EFL-2.0",
    _OSI + "European Union Public Licence 1.0 (EUPL 1.0)": "EUPL-1.0",
    _OSI + "European Union Public Licence 1.1 (EUPL 1.1)": "EUPL-1.1",
    _OSI + "European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    _OSI + "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    _OSI + "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    _OSI + "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    _OSI + "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    _OSI + "Historical Permission Notice and Disclaimer (HPND)": "HPND",
    _OSI + "IBM Public License": "IPL-1.0",
    _OSI + "Intel Open Source License": "Intel",
    _OSI + "ISC License (ISCL)": "ISC",
    _OSI + "MIT License": "MIT",
    _OSI + "MIT No Attribution License (MIT-0)": "MIT-0",
    _OSI + "MirOS License (MirOS)": "MirOS",
    _OSI + "Motosoto License": "Motosoto",
    _OSI + "Mozilla Public License 1.0 (MPL)": "MPL-1.0",
    _OSI + "Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    _OSI + "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    _OSI + "Mulan Permissive Software License v2 (MulanPSL-2.0)": "MulanPSL-2.0",
    _OSI + "NASA Open Source Agreement v1.3 (NASA-1.3)": "NASA-1.3",
    _OSI + "Nethack General Public License": "NGPL",
    _OSI + "Nokia Open Source License": "Nokia",
    _OSI + "Open Group Test Suite License": "OGTSL",
    _OSI + "Open Software License 3.0 (OSL-3.0)": "OSL-3.0",
    _OSI + "PostgreSQL License": "PostgreSQL",
    _OSI + "Python License (CNRI Python License)": "CNRI-Python",
    _OSI + "Python Software Foundation License": "PSF-2.0",
    _OSI + "Qt Public License (QPL)": "QPL-1.0",
    _OSI + "Ricoh Source Code Public License": "RSCPL",
    _OSI + "SIL Open Font License 1.1 (OFL-1.1)": "OFL-1.1",
    _OSI + "Sleepycat License": "Sleepycat",
    _OSI + "Sun Industry Standards Source License (SISSL)": "SISSL",
    _OSI + "Sun Public License": "SPL-1.0",
    _OSI + "The Unlicense (Unlicense)": "Unlicense",
    _OSI + "Universal Permissive License (UPL)": "UPL-1.0",
    _OSI + "University of Illinois/NCSA Open Source License": "NCSA",
    _OSI + "Vovida Software License 1.0": "VSL-1.0",
    _OSI + "W3C License": "W3C",
    _OSI + "X.Net License": "Xnet",
    _OSI + "Zero-Clause BSD (0BSD)": "0BSD",
    _OSI + "Zope Public License": "ZPL-2.1",
    _OSI + "zlib/libpng License": "Zlib",
}

# PEP 639: tools MUST NOT infer an expression from these; each still asserts OSI approval.
AMBIGUOUS_OSI = frozenset(
    _OSI + name
    for name in (
        "Academic Free License (AFL)",
        "Apache Software License",
        "Apple Public Source License",
        "Artistic License",
        "BSD License",
        "GNU Affero General Public License v3",
        "GNU Free Documentation License (FDL)",
        "GNU General Public License (GPL)",
        "GNU General Public License v2 (GPLv2)",
        "GNU General Public License v3 (GPLv3)",
        "GNU Lesser General Public License v2 (LGPLv2)",
        "GNU Lesser General Public License v2 or later (LGPLv2+)",
        "GNU Lesser General Public License v3 (LGPLv3)",
        "GNU Library or Lesser General Public License (LGPL)",
    )
)

# PEP 639: MAY map to LicenseRef-Proprietary (with a prominent warning): proprietary here.
PROPRIETARY = frozenset(
    "License :: " + name
    for name in (
        "Free For Educational Use",
        "Free For Home Use",
        "Free for non-commercial use",
        "Freely Distributable",
        "Free To Use But Restricted",
        "Freeware",
        "Other/Proprietary License",
    )
)

# Say nothing about which licence (PEP 639: ignore or treat as ambiguous).
IGNORED = frozenset({"License :: OSI Approved", "License :: DFSG approved"})


def classifier_term(classifier: str) -> LicenseTerm | None:
    """The term one licence classifier contributes, or None when it says nothing."""
    text = " ".join(classifier.split())
    if text in IGNORED or not text.startswith("License ::"):
        return None
    spdx = CLASSIFIER_IDS.get(text)
    if spdx is not None:
        return LicenseTerm("osi-classifier" if text.startswith(_OSI) else "classifier", spdx)
    if text in AMBIGUOUS_OSI:
        return LicenseTerm("osi-family", text)
    if text in PROPRIETARY:
        return LicenseTerm("marker", "marker-proprietary")
    if text == "License :: Public Domain":
        return LicenseTerm("marker", "public-domain")
    if text.startswith(_OSI):  # a classifier added after this table: it still asserts OSI
        return LicenseTerm("osi-family", text)
    return LicenseTerm("marker", "classifier-unmapped")


def evidence(signals: Mapping[str, Any]) -> LicenseEvidence:
    """License-Expression alone when present; else the classifiers, corroborated by License."""
    expression = text_of(signals.get("license_expression"))
    if expression:
        return LicenseEvidence(LicenseTerm("text", expression), expression)
    raw_classifiers = signals.get("classifiers")
    classifiers = [
        " ".join(c.split())
        for c in (raw_classifiers if isinstance(raw_classifiers, list) else [])
        if isinstance(c, str)
    ]
    terms = tuple(dict.fromkeys(t for c in classifiers if (t := classifier_term(c)) is not None))
    license_field = signals.get("license")
    field_text = license_field.strip() if isinstance(license_field, str) else ""
    field = LicenseTerm("text", field_text) if field_text else None
    shown = [c for c in classifiers if c not in IGNORED]
    raw = "; ".join([*shown, field_text] if field_text else shown) or None
    group: LicenseTerm | LicenseGroup | None = None
    if terms:
        group = terms[0] if len(terms) == 1 else LicenseGroup("unspecified", terms)
    if group is not None and field is not None:
        return LicenseEvidence(LicenseGroup("corroborate", (group, field)), raw)
    return LicenseEvidence(group or field, raw)


def is_prerelease(version: str) -> bool:
    """PEP 440 pre- and development releases (an unparseable version counts as one)."""
    try:
        return Version(version).is_prerelease
    except InvalidVersion:
        return True
