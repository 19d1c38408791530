"""A package's verdict from its versions' signals; versions whose signals differ keep their own.

The package verdict comes from the newest version that is neither a prerelease nor yanked and
has signals (then the newest non-yanked, then any, then the package's own signals). A version
gets its own verdict only when its signals read differently (its evidence differs); the others
share the package's and carry none.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from ssc_cli.licenses import signals
from ssc_cli.licenses.classify import Classifier
from ssc_cli.models import (
    Classification,
    Ecosystem,
    LicenseEvidence,
    PackageLicenseInput,
    Verdict,
    VersionLicenseInput,
)

_EVIDENCE_CACHE = 65_536


def has_signals(stored: str | None) -> bool:
    return bool(stored) and stored != "{}"


def signals_digest(package: PackageLicenseInput) -> str:
    """Of everything the verdicts are computed from: changes when any signal or the order does."""
    # Unit and record separators cannot occur unescaped in the stored JSON texts.
    parts = [package.licenses or ""]
    parts.extend(
        f"{v.name}\x1f{v.serial_number}\x1f{int(v.yanked)}\x1f{v.licenses}"
        for v in sorted(package.versions, key=lambda v: v.purl)
        if has_signals(v.licenses)
    )
    text = "\x1e".join(parts)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


class PackageClassifier:
    """Classifications of one ecosystem's packages under one Classifier."""

    def __init__(self, classifier: Classifier, ecosystem: Ecosystem) -> None:
        self.classifier = classifier
        self.ecosystem = ecosystem
        self.rules = signals.rules(ecosystem)
        self._evidence: OrderedDict[str, LicenseEvidence] = OrderedDict()
        self._prerelease: dict[str, bool] = {}

    def evidence(self, stored: str | None) -> LicenseEvidence:
        """Evidence of stored JSON signals, remembered for the most recent distinct texts."""
        key = stored or ""
        found = self._evidence.get(key)
        if found is not None:
            self._evidence.move_to_end(key)
            return found
        found = signals.evidence_from_text(self.ecosystem, stored)
        self._evidence[key] = found
        if len(self._evidence) > _EVIDENCE_CACHE:
            self._evidence.popitem(last=False)
        return found

    def _is_prerelease(self, name: str) -> bool:
        found = self._prerelease.get(name)
        if found is None:
            found = self.rules.is_prerelease(name)
            if len(self._prerelease) < _EVIDENCE_CACHE:
                self._prerelease[name] = found
        return found

    def chosen(self, package: PackageLicenseInput) -> VersionLicenseInput | None:
        """The version whose signals decide the package (None: use the package's own)."""
        best: tuple[int, int, str] | None = None
        chosen: VersionLicenseInput | None = None
        for version in package.versions:
            if not version.licenses or version.licenses == "{}":
                continue
            # Rank: stable and released first, then released, then anything; newest within.
            rank = 2 if not version.yanked else 0
            if rank and not self._is_prerelease(version.name):
                rank = 3
            key = (rank, version.serial_number, version.name)
            if best is None or key > best:
                best, chosen = key, version
        return chosen

    def classify(self, package: PackageLicenseInput) -> Classification:
        chosen = self.chosen(package)
        stored = chosen.licenses if chosen is not None else package.licenses
        evidence = self.evidence(stored)
        if evidence.root is None and chosen is not None and has_signals(package.licenses):
            evidence = self.evidence(package.licenses)  # the version's signals say nothing
            stored = package.licenses
        verdict = self.classifier.verdict(evidence)
        own: list[tuple[str, Verdict | None]] = []
        for version in package.versions:
            mine: Verdict | None = None
            if has_signals(version.licenses) and version.licenses != stored:
                theirs = self.evidence(version.licenses)
                if theirs.root is not None and theirs.root != evidence.root:
                    mine = self.classifier.verdict(theirs)
            if mine is not None or version.oss_status is not None:
                own.append((version.purl, mine))
        return Classification(package.purl, verdict, signals_digest(package), own)

    def needs_classifying(self, package: PackageLicenseInput) -> bool:
        """Never classified, classified under another list, or its signals changed since."""
        return (
            package.oss_status is None
            or package.list_version != self.classifier.list_version
            or package.digest != signals_digest(package)
        )
