"""Per-ecosystem licence rules (ssc_cli/registries/<eco>/licenses.py) and the package verdict."""

from __future__ import annotations

import json

import pytest

from ssc_cli.licenses import signals
from ssc_cli.licenses.classify import Classifier
from ssc_cli.licenses.packages import PackageClassifier, signals_digest
from ssc_cli.models import (
    Ecosystem,
    LicenseGroup,
    LicenseTerm,
    PackageLicenseInput,
    VersionLicenseInput,
)
from tests.licenses.spdx_data import real_classifier

PYPI, NPM, MAVEN, NUGET, CARGO, GEMS = (
    Ecosystem.PYPI,
    Ecosystem.NPM,
    Ecosystem.MAVEN,
    Ecosystem.NUGET,
    Ecosystem.CARGO,
    Ecosystem.RUBYGEMS,
)


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return real_classifier()


def status(
    classifier: Classifier, eco: Ecosystem, sig: dict[str, object]
) -> tuple[str, str, str | None]:
    v = classifier.verdict(signals.evidence(eco, sig))
    return v.status, v.reason, v.expression


def test_pypi_expression_wins_then_classifiers_then_the_license_field(
    classifier: Classifier,
) -> None:
    both = {"license_expression": "MIT", "classifiers": ["License :: OSI Approved :: BSD License"]}
    assert status(classifier, PYPI, both) == ("open_source", "spdx-osi", "MIT")
    ambiguous = {"classifiers": ["License :: OSI Approved :: BSD License"]}
    assert status(classifier, PYPI, ambiguous) == ("open_source", "classifier-osi-family", None)
    # PEP 639: no id is inferred from an ambiguous classifier; the License field may give one.
    assert status(classifier, PYPI, {**ambiguous, "license": "BSD-3-Clause"})[2] == "BSD-3-Clause"
    conflict = {"classifiers": ["License :: Other/Proprietary License"], "license": "MIT"}
    assert status(classifier, PYPI, conflict) == ("unknown", "conflicting-signals", None)
    two = {
        "classifiers": [
            "License :: OSI Approved :: MIT License",
            "License :: Other/Proprietary License",
        ]
    }
    assert status(classifier, PYPI, two)[:2] == ("unknown", "conflicting-signals")
    assert status(classifier, PYPI, {"classifiers": ["License :: OSI Approved"]})[:2] == (
        "unknown",
        "no-signal",
    )
    assert status(classifier, PYPI, {"classifiers": ["License :: Freeware"]})[:2] == (
        "proprietary",
        "marker-proprietary",
    )
    assert status(classifier, PYPI, {"classifiers": ["License :: Public Domain"]})[:2] == (
        "unknown",
        "public-domain",
    )
    psf = {"classifiers": ["License :: OSI Approved :: Python Software Foundation License"]}
    assert status(classifier, PYPI, psf) == ("open_source", "classifier-osi", "PSF-2.0")


def test_npm_legacy_forms_and_markers(classifier: Classifier) -> None:
    legacy = {"licenses": [{"type": "MIT", "url": "x"}, {"type": "Apache-2.0", "url": "y"}]}
    assert status(classifier, NPM, legacy) == (
        "open_source",
        "spdx-osi",
        "MIT OR Apache-2.0",
    )  # a choice
    assert status(classifier, NPM, {"license": {"type": "BSD-3-Clause"}})[2] == "BSD-3-Clause"
    assert status(classifier, NPM, {"license": "UNLICENSED"})[:2] == (
        "proprietary",
        "marker-unlicensed",
    )
    assert status(classifier, NPM, {"license": "SEE LICENSE IN EULA.md"})[:2] == (
        "unknown",
        "see-license-file",
    )
    assert (
        status(classifier, NPM, {"license": "(MIT OR GPL-3.0-or-later)"})[2]
        == "MIT OR GPL-3.0-or-later"
    )
    raw = signals.evidence(NPM, legacy).raw
    assert raw is not None and json.loads(raw) == legacy["licenses"]


def test_cargo_slash_is_or(classifier: Classifier) -> None:
    assert status(classifier, CARGO, {"license": "MIT/Apache-2.0"}) == (
        "open_source",
        "spdx-osi",
        "MIT OR Apache-2.0",
    )
    assert signals.evidence(CARGO, {"license": "MIT/Apache-2.0"}).raw == "MIT/Apache-2.0"


def test_rubygems_lists_decide_only_when_they_agree(classifier: Classifier) -> None:
    assert status(classifier, GEMS, {"licenses": ["MIT", "Ruby"]})[0] == "open_source"
    assert status(classifier, GEMS, {"licenses": ["MIT", "Nonstandard"]})[:2] == (
        "unknown",
        "conflicting-signals",
    )
    assert status(classifier, GEMS, {"licenses": ["Nonstandard"]})[:2] == ("unknown", "nonstandard")
    assert status(classifier, GEMS, {"licenses": None})[:2] == ("unknown", "no-signal")


def test_maven_list_is_a_choice_of_name_then_url(classifier: Classifier) -> None:
    pom = {
        "licenses": [
            {"name": "Some Vendor Licence", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
            {"name": "JSON License"},
        ]
    }
    assert status(classifier, MAVEN, pom) == ("open_source", "or-one-open", "Apache-2.0 OR JSON")
    evidence = signals.evidence(MAVEN, pom)
    assert isinstance(evidence.root, LicenseGroup) and evidence.root.mode == "or"
    assert (
        evidence.raw
        == "Some Vendor Licence <https://www.apache.org/licenses/LICENSE-2.0>; JSON License"
    )


def test_nuget_expression_url_and_file(classifier: Classifier) -> None:
    assert (
        status(
            classifier,
            NUGET,
            {"licenseExpression": "MIT", "licenseUrl": "https://licenses.nuget.org/MIT"},
        )[2]
        == "MIT"
    )
    decoded = {"licenseUrl": "https://licenses.nuget.org/MIT%20OR%20Apache-2.0"}
    assert status(classifier, NUGET, decoded)[2] == "MIT OR Apache-2.0"
    file_ = {"licenseFile": "LICENSE.txt", "licenseUrl": "https://aka.ms/deprecateLicenseUrl"}
    assert status(classifier, NUGET, file_)[:2] == ("unknown", "see-license-file")
    page = {"licenseUrl": "https://www.nuget.org/packages/NUnit/3.12.0/license"}
    assert status(classifier, NUGET, page)[:2] == ("unknown", "see-license-file")
    known = {"licenseUrl": "http://www.apache.org/licenses/LICENSE-2.0.html"}
    assert status(classifier, NUGET, known) == ("open_source", "url-known", "Apache-2.0")
    eula = {"licenseUrl": "http://www.microsoft.com/web/webpi/eula/net_library_eula_ENU.htm"}
    assert status(classifier, NUGET, eula)[:2] == ("proprietary", "marker-eula")
    assert signals.evidence(NUGET, {"licenseExpression": "", "licenseUrl": ""}).root is None


@pytest.mark.parametrize(
    ("eco", "version", "pre"),
    [
        (PYPI, "2.0.0rc1", True),
        (PYPI, "2.0.0", False),
        (PYPI, "1.0.dev3", True),
        (NPM, "1.0.0-beta.1", True),
        (NPM, "1.0.0+build", False),
        (CARGO, "0.1.0-alpha", True),
        (NUGET, "3.0.0-preview4.19216.2", True),
        (GEMS, "2.0.0.rc1", True),
        (GEMS, "2.0.0", False),
        (MAVEN, "1.0-SNAPSHOT", True),
        (MAVEN, "2.0.0-M1", True),
        (MAVEN, "5.0.0.Final", False),
        (MAVEN, "32.1.2-jre", False),
    ],
)
def test_prereleases(eco: Ecosystem, version: str, pre: bool) -> None:
    assert signals.rules(eco).is_prerelease(version) is pre


def _version(
    name: str, serial: int, lic: str | None, *, yanked: bool = False
) -> VersionLicenseInput:
    return VersionLicenseInput(
        purl=f"pkg:npm/a@{name}",
        name=name,
        serial_number=serial,
        yanked=yanked,
        licenses=json.dumps({"license": lic}) if lic else None,
    )


def test_the_newest_stable_version_decides_and_differing_versions_keep_their_own(
    classifier: Classifier,
) -> None:
    package = PackageLicenseInput(
        purl="pkg:npm/a",
        name="a",
        licenses=json.dumps({"license": "BUSL-1.1"}),
        versions=[
            _version("1.0.0", 0, "GPL-3.0-only"),
            _version("2.0.0", 1, "MIT"),
            _version("2.1.0", 2, "MIT"),
            _version("3.0.0-beta.1", 3, "BUSL-1.1"),  # a prerelease does not decide
            _version("2.2.0", 4, None),  # no signals read: shares the package's
            _version("2.9.0", 5, "SSPL-1.0", yanked=True),  # yanked does not decide
        ],
    )
    result = PackageClassifier(classifier, NPM).classify(package)
    assert (result.verdict.status, result.verdict.expression) == ("open_source", "MIT")
    own = {purl.rsplit("@", 1)[1]: v.expression if v else None for purl, v in result.versions}
    assert own == {"1.0.0": "GPL-3.0-only", "3.0.0-beta.1": "BUSL-1.1", "2.9.0": "SSPL-1.0"}
    assert result.digest == signals_digest(package)


def test_equal_evidence_is_not_a_difference(classifier: Classifier) -> None:
    # NuGet: every version's licenseUrl names the version, the expression is the same.
    versions = [
        VersionLicenseInput(
            purl=f"pkg:nuget/x@{v}",
            name=v,
            serial_number=i,
            yanked=False,
            licenses=json.dumps(
                {
                    "licenseExpression": "MIT",
                    "licenseUrl": f"https://www.nuget.org/packages/x/{v}/license",
                }
            ),
        )
        for i, v in enumerate(["1.0.0", "1.1.0"])
    ]
    package = PackageLicenseInput(purl="pkg:nuget/x", name="x", licenses=None, versions=versions)
    assert PackageClassifier(classifier, NUGET).classify(package).versions == []


def test_needs_classifying(classifier: Classifier) -> None:
    deciding = PackageClassifier(classifier, NPM)
    package = PackageLicenseInput("pkg:npm/a", "a", None, [_version("1.0.0", 0, "MIT")])
    assert deciding.needs_classifying(package)  # never classified
    package.oss_status, package.list_version = "open_source", classifier.list_version
    package.digest = signals_digest(package)
    assert not deciding.needs_classifying(package)
    package.versions[0].licenses = json.dumps({"license": "ISC"})
    assert deciding.needs_classifying(package)  # signals changed
    package.digest, package.list_version = signals_digest(package), "3.27.0"
    assert deciding.needs_classifying(package)  # another list


def test_terms_are_the_shared_types() -> None:
    assert signals.evidence(CARGO, {"license": "MIT"}).root == LicenseTerm("text", "MIT")


def test_the_nuget_client_keeps_the_licence_file() -> None:
    from ssc_cli.registries.nuget.parse import license_signals

    leaf = {
        "licenseFile": "LICENSE.txt",
        "licenseUrl": "https://aka.ms/deprecateLicenseUrl",
        "licenseExpression": "",
    }
    assert license_signals(leaf) == {
        "licenseFile": "LICENSE.txt",
        "licenseUrl": "https://aka.ms/deprecateLicenseUrl",
    }
