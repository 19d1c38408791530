"""The decision tree on the real SPDX list 3.28.0: leaves, operators, names, URLs, texts."""

from __future__ import annotations

import pytest

from ssc_cli.licenses.classify import Classifier
from ssc_cli.licenses.index import LicenseIndex, normalise_url
from ssc_cli.licenses.names import name_key
from ssc_cli.models import LicenseEvidence, LicenseGroup, LicenseRecord, LicenseTerm
from tests.licenses.spdx_data import real_classifier, real_list

OPEN, PROP, UNK = "open_source", "proprietary", "unknown"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return real_classifier()


def text(classifier: Classifier, value: str) -> tuple[str, str, str | None]:
    verdict = classifier.verdict(LicenseEvidence(LicenseTerm("text", value), value))
    return verdict.status, verdict.reason, verdict.expression


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("MIT", (OPEN, "spdx-osi", "MIT")),
        ("mit", (OPEN, "spdx-osi", "MIT")),  # ids are case-insensitive
        ("CC0-1.0", (OPEN, "spdx-fsf", "CC0-1.0")),  # FSF-libre, not OSI: open by the FSF flag
        ("WTFPL", (OPEN, "spdx-fsf", "WTFPL")),
        ("JSON", (UNK, "spdx-not-open", "JSON")),  # isFsfLibre false, not OSI
        ("Beerware", (UNK, "spdx-not-open", "Beerware")),  # no FSF flag at all: absent is not true
        ("GPL-2.0", (OPEN, "spdx-osi", "GPL-2.0-only")),  # deprecated -> successor
        ("GPL-2.0+", (OPEN, "spdx-osi", "GPL-2.0-or-later")),
        ("LGPL-2.1+", (OPEN, "spdx-osi", "LGPL-2.1-or-later")),
        ("Apache-2.0+", (OPEN, "spdx-osi", "Apache-2.0+")),  # `+` keeps the class
        (
            "GPL-2.0-with-classpath-exception",
            (OPEN, "spdx-osi", "GPL-2.0-only WITH Classpath-exception-2.0"),
        ),
        (
            "gpl-2.0-or-later with classpath-exception-2.0",
            (OPEN, "spdx-osi", "GPL-2.0-or-later WITH Classpath-exception-2.0"),
        ),
        (
            "MIT OR Apache-2.0 AND BSD-3-Clause",
            (OPEN, "spdx-osi", "MIT OR (Apache-2.0 AND BSD-3-Clause)"),
        ),
        ("MIT OR BUSL-1.1", (OPEN, "or-one-open", "MIT OR BUSL-1.1")),
        ("Apache-2.0 AND BUSL-1.1", (PROP, "and-not-all-open", "Apache-2.0 AND BUSL-1.1")),
        ("MIT AND JSON", (UNK, "and-not-all-open", "MIT AND JSON")),
        ("BUSL-1.1", (PROP, "source-available", "BUSL-1.1")),
        ("SSPL-1.0", (PROP, "source-available", "SSPL-1.0")),
        ("Elastic-2.0", (PROP, "source-available", "Elastic-2.0")),
        ("CC-BY-NC-4.0", (PROP, "source-available", "CC-BY-NC-4.0")),
        (
            "PolyForm-Noncommercial-1.0.0",
            (PROP, "source-available", "PolyForm-Noncommercial-1.0.0"),
        ),
        ("UNLICENSED", (PROP, "marker-unlicensed", None)),
        ("Unlicense", (OPEN, "spdx-osi", "Unlicense")),  # not UNLICENSED
        ("Proprietary", (PROP, "marker-proprietary", None)),
        ("Commercial license, all rights reserved", (PROP, "marker-proprietary", None)),
        ("LicenseRef-Proprietary", (PROP, "marker-proprietary", "LicenseRef-Proprietary")),
        ("LicenseRef-Foo", (UNK, "licenseref", "LicenseRef-Foo")),
        ("LicenseRef-Public-Domain", (UNK, "public-domain", "LicenseRef-Public-Domain")),
        ("Public Domain", (UNK, "public-domain", None)),
        ("SEE LICENSE IN LICENSE.md", (UNK, "see-license-file", None)),
        ("see LICENSE file", (UNK, "see-license-file", None)),
        ("UNKNOWN", (UNK, "no-signal", None)),
        ("MIT AND", (UNK, "unparseable", None)),
        ("Foo-License-9", (UNK, "unknown-id", None)),
        ("Bouncy Castle Licence", (UNK, "unrecognised", None)),
        ("Apache License, Version 2.0", (OPEN, "name-known", "Apache-2.0")),
        ("The Apache Software License, Version 2.0", (OPEN, "name-known", "Apache-2.0")),
        ("ASL 2", (OPEN, "name-known", "Apache-2.0")),
        ("GPLv3+", (OPEN, "name-known", "GPL-3.0-or-later")),
        ("GNU General Public License v2", (OPEN, "name-known", "GPL-2.0-only")),
        ("LGPL v3", (OPEN, "name-known", "LGPL-3.0-only")),
        ("New BSD License", (OPEN, "name-known", "BSD-3-Clause")),
        ("Expat (MIT/X11)", (OPEN, "name-known", "MIT")),
        (
            "EPL 2.0 or GPL 2.0 with classpath exception",
            (OPEN, "name-known", "EPL-2.0 OR GPL-2.0-only WITH Classpath-exception-2.0"),
        ),
        ("MIT/X11", (OPEN, "spdx-fsf", "MIT OR X11")),  # X11 is FSF-libre only
        ("BSD", (OPEN, "name-family", None)),
        ("CDDL", (UNK, "ambiguous-family", None)),  # CDDL-1.1 is neither OSI nor FSF-flagged
        ("MIT +no-false-attribs", (UNK, "spdx-not-open", "MITNFA")),  # SPDX's name for it
    ],
)
def test_text(classifier: Classifier, value: str, expected: tuple[str, str, str | None]) -> None:
    assert text(classifier, value) == expected


def test_a_pasted_licence_text_is_recognised_not_parsed(classifier: Classifier) -> None:
    mit = (
        "MIT License\n\nCopyright (c) 2020 A\n\nPermission is hereby granted, free of charge, "
        "to any person obtaining a copy of this software ...\n\nThe above copyright notice and "
        "this permission notice shall be included in all copies"
    )
    assert text(classifier, mit) == (OPEN, "license-text", "MIT")
    bsd = "Copyright (c) X. All rights reserved.\nRedistribution and use in source and binary forms ... Neither the name of X may be used to endorse or promote products"
    assert text(classifier, bsd) == (OPEN, "license-text", "BSD-3-Clause")
    assert text(classifier, "Some words\nthat are no licence at all") == (UNK, "unparseable", None)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://www.apache.org/licenses/LICENSE-2.0.txt", (OPEN, "url-known", "Apache-2.0")),
        ("https://opensource.org/licenses/BSD-3-clause", (OPEN, "url-known", "BSD-3-Clause")),
        ("http://www.opensource.org/licenses/mit-license.php", (OPEN, "url-known", "MIT")),
        ("https://spdx.org/licenses/MIT-0.html", (OPEN, "url-known", "MIT-0")),
        ("https://www.gnu.org/licenses/lgpl-2.1.html", (OPEN, "url-known", "LGPL-2.1-only")),
        ("http://creativecommons.org/publicdomain/zero/1.0/", (OPEN, "url-known", "CC0-1.0")),
        ("https://www.eclipse.org/org/documents/epl-v10.php", (OPEN, "url-known", "EPL-1.0")),
        ("https://github.com/o/r/blob/master/LICENSE", (UNK, "url-unknown", None)),
        ("http://go.microsoft.com/fwlink/?LinkID=320539", (UNK, "url-unknown", None)),
        (
            "http://www.microsoft.com/web/webpi/eula/net_library_eula_enu.htm",
            (PROP, "marker-eula", None),
        ),
        ("/LICENSE.txt", (UNK, "url-unknown", None)),
    ],
)
def test_url(classifier: Classifier, url: str, expected: tuple[str, str, str | None]) -> None:
    verdict = classifier.verdict(LicenseEvidence(LicenseTerm("url", url), url))
    assert (verdict.status, verdict.reason, verdict.expression) == expected


def test_groups(classifier: Classifier) -> None:
    def verdict(node: LicenseTerm | LicenseGroup) -> tuple[str, str, str | None]:
        v = classifier.verdict(LicenseEvidence(node))
        return v.status, v.reason, v.expression

    mit, gpl, json_, pd = (
        LicenseTerm("text", t) for t in ("MIT", "GPL-3.0-only", "JSON", "Public Domain")
    )
    assert verdict(LicenseGroup("or", (mit, json_))) == (OPEN, "or-one-open", "MIT OR JSON")
    assert verdict(LicenseGroup("unspecified", (mit, gpl))) == (OPEN, "spdx-osi", None)
    assert verdict(LicenseGroup("unspecified", (mit, json_))) == (UNK, "conflicting-signals", None)
    first = LicenseGroup(
        "first", (pd, LicenseTerm("url", "https://creativecommons.org/publicdomain/zero/1.0/"))
    )
    assert verdict(first) == (OPEN, "url-known", "CC0-1.0")  # the name decided nothing
    family = LicenseTerm("osi-family", "License :: OSI Approved :: BSD License")
    assert verdict(LicenseGroup("corroborate", (family, LicenseTerm("text", "BSD-3-Clause")))) == (
        OPEN,
        "spdx-osi",
        "BSD-3-Clause",
    )
    prop = LicenseTerm("marker", "marker-proprietary")
    assert verdict(LicenseGroup("corroborate", (prop, mit))) == (UNK, "conflicting-signals", None)
    assert verdict(LicenseGroup("corroborate", (family, LicenseTerm("text", "UNKNOWN")))) == (
        OPEN,
        "classifier-osi-family",
        None,
    )


def test_verdicts_carry_the_ids_involved(classifier: Classifier) -> None:
    verdict = classifier.verdict(
        LicenseEvidence(LicenseTerm("text", "(MIT OR Apache-2.0) AND Unicode-3.0"))
    )
    assert verdict.ids == ("MIT", "Apache-2.0", "Unicode-3.0")
    assert verdict.expression == "(MIT OR Apache-2.0) AND Unicode-3.0"
    verdict = classifier.verdict(
        LicenseEvidence(LicenseTerm("text", "GPL-2.0-with-classpath-exception"))
    )
    assert verdict.ids == ("GPL-2.0-only", "Classpath-exception-2.0")


def test_a_newer_list_changes_what_is_recognised() -> None:
    old = Classifier(LicenseIndex([LicenseRecord("MIT", "MIT License", True)], "1"))
    assert old.verdict(LicenseEvidence(LicenseTerm("text", "Example-1.0"))).status == UNK
    new_records = [
        LicenseRecord("MIT", "MIT License", True),
        LicenseRecord("Example-1.0", "Example", True),
    ]
    new = Classifier(LicenseIndex(new_records, "2"))
    verdict = new.verdict(LicenseEvidence(LicenseTerm("text", "Example-1.0")))
    assert (verdict.status, verdict.expression) == (OPEN, "Example-1.0")


def test_every_id_of_the_list_classifies_by_its_flags(classifier: Classifier) -> None:
    for record in real_list().records:
        if record.is_exception or record.deprecated:
            continue
        status = text(classifier, record.spdx_id)[0]
        if status == PROP:
            continue  # the source-available list overrides flags (none of them are OSI/FSF)
        assert (status == OPEN) == (record.osi_approved or record.fsf_libre is True), record.spdx_id


def test_name_keys() -> None:
    assert name_key("The Apache Software License, Version 2.0") == "apache 2.0"
    assert (
        name_key("GNU Lesser General Public License v2.1 or later")
        == "gnu lesser general public 2.1 or later"
    )
    assert name_key("LGPLv3+") == "gnu lesser general public 3.0 or later"
    assert (
        name_key("COMMON DEVELOPMENT AND DISTRIBUTION LICENSE (CDDL) Version 1.0")
        == "common development and distribution 1.0"
    )
    assert (
        normalise_url("HTTPS://www.Apache.org/licenses/LICENSE-2.0.txt#x")
        == "apache.org/licenses/license-2.0"
    )
    assert (
        normalise_url("https://creativecommons.org/licenses/by/4.0/legalcode")
        == "creativecommons.org/licenses/by/4.0"
    )


def test_malformed_input_never_escapes(classifier: Classifier) -> None:
    for value in (
        "((",
        "MIT WITH",
        "AND OR",
        "MIT WITH GPL-2.0",
        "\x00\x01",
        "a" * 10_000,
        "WITH MIT",
    ):
        status = text(classifier, value)[0]
        assert status in (OPEN, PROP, UNK)
