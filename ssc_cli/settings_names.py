"""Unknown setting names (a typo in the environment or the env file): the closest known name."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from ssc_cli.errors import ConfigError

log = logging.getLogger("ssc")

# How alike a name must be to a known one to be called a typo of it (difflib ratio).
_CUTOFF = 0.8


def known_names(model: type[BaseSettings]) -> dict[str, str]:
    """Every environment name the model reads (SSC_* and the legacy aliases), to its field."""
    names: dict[str, str] = {}
    for field, info in model.model_fields.items():
        alias = info.validation_alias
        choices = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else []
        for name in choices or [f"SSC_{field.upper()}"]:
            names[name.upper()] = field
    return names


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name this one is most likely a typo of, or None."""
    found = difflib.get_close_matches(name.upper(), list(known), n=1, cutoff=_CUTOFF)
    return found[0] if found else None


def check_names(
    model: type[BaseSettings], environ: Mapping[str, str], env_file: Path | None
) -> None:
    """Unknown SSC_* variables and unknown env-file names: a warning each, or ConfigError
    when the name is a typo of a URL setting, since ignoring it would send ssc to the public
    registry (or the default graph) instead of the one meant."""
    known = known_names(model)
    # SSC_TEST_* belongs to the test suite's harness (tests/README.md), not to ssc.
    unknown = [
        (name, "environment")
        for name in environ
        if name.upper().startswith("SSC_") and not name.upper().startswith("SSC_TEST_")
    ]
    if env_file is not None:
        from dotenv import dotenv_values

        unknown += [(name, str(env_file)) for name in dotenv_values(env_file)]
    errors = []
    for name, origin in unknown:
        if name.upper() in known:
            continue
        guess = closest(name, known)
        hint = f"; did you mean {guess}?" if guess else " (not a setting of ssc; ignored)"
        where = "the environment" if origin == "environment" else origin
        message = f"unknown setting {name} in {where}{hint}"
        if guess is not None and known[guess].endswith(("_url", "_uri")):
            errors.append(f"{message} (ignored, ssc would use the default {guess})")
        else:
            log.warning("%s", message)
    if errors:
        raise ConfigError("; ".join(errors))
