"""Per-ecosystem licence rules, one module beside each registry client: raw signals -> evidence.

Each `ssc_cli/registries/<eco>/licenses.py` provides `evidence(signals)` (the stored signals of
one version or package, as its client keeps them, read under that registry's conventions) and
`is_prerelease(version)`. They import neither the client nor httpx, so classifying stays cheap.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Mapping
from typing import Any, Protocol, cast

from ssc_cli.models import Ecosystem, LicenseEvidence


class EcosystemRules(Protocol):
    def evidence(self, signals: Mapping[str, Any]) -> LicenseEvidence: ...

    def is_prerelease(self, version: str) -> bool: ...


@functools.cache
def rules(ecosystem: Ecosystem) -> EcosystemRules:
    module = importlib.import_module(f"ssc_cli.registries.{ecosystem.value}.licenses")
    return cast(EcosystemRules, module)


def evidence(ecosystem: Ecosystem, signals: Mapping[str, Any]) -> LicenseEvidence:
    """What one version's (or package's) stored signals say, under its registry's rules."""
    return rules(ecosystem).evidence(signals)


def evidence_from_text(ecosystem: Ecosystem, stored: str | None) -> LicenseEvidence:
    """evidence() of signals stored as JSON text (an unreadable blob is no signal)."""
    if not stored:
        return LicenseEvidence(None)
    try:
        data = json.loads(stored)
    except ValueError:
        return LicenseEvidence(None)
    return evidence(ecosystem, data) if isinstance(data, dict) else LicenseEvidence(None)


def text_of(value: Any) -> str:
    """A published value as one trimmed string ("" for anything that is not text)."""
    return " ".join(value.split()) if isinstance(value, str) else ""
