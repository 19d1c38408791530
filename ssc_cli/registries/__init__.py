"""Registry clients, one package per ecosystem; open_registry picks the one asked for."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ssc_cli.errors import ConfigError
from ssc_cli.models import Ecosystem

if TYPE_CHECKING:  # httpx and pydantic load only with a client: `ssc --help` stays fast (issue 8)
    from ssc_cli.http import Http
    from ssc_cli.registries.interface import Registry
    from ssc_cli.settings import Settings

# Implemented ecosystems: "module:class". An ecosystem absent here is not offered by the CLI.
_IMPLEMENTATIONS: dict[Ecosystem, str] = {
    Ecosystem.PYPI: "ssc_cli.registries.pypi.client:PyPIRegistry",
    Ecosystem.NPM: "ssc_cli.registries.npm.client:NPMRegistry",
    Ecosystem.MAVEN: "ssc_cli.registries.maven.client:MavenRegistry",
    Ecosystem.NUGET: "ssc_cli.registries.nuget.client:NuGetRegistry",
    Ecosystem.CARGO: "ssc_cli.registries.cargo.client:CargoRegistry",
    Ecosystem.RUBYGEMS: "ssc_cli.registries.rubygems.client:RubyGemsRegistry",
}


# Registries whose raw archive `ssc rebuild` can read offline (pipeline/rebuild.py).
ARCHIVED: tuple[Ecosystem, ...] = (Ecosystem.NUGET,)


def available() -> list[Ecosystem]:
    """Ecosystems ssc can ingest, in command-line order."""
    return [eco for eco in Ecosystem if eco in _IMPLEMENTATIONS]


def open_registry(ecosystem: Ecosystem, settings: Settings, http: Http) -> Registry:
    """The client of one registry, sharing the run's HTTP layer."""
    target = _IMPLEMENTATIONS.get(ecosystem)
    if target is None:
        names = ", ".join(e.value for e in available())
        raise ConfigError(f"ecosystem {ecosystem.value!r} is not supported yet; use one of {names}")
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    registry: Registry = cls(settings, http)
    return registry


def name_problem(ecosystem: Ecosystem, name: str) -> str | None:
    """Why `name` can be no package of `ecosystem` under its registry's naming rule (each
    ecosystem's names.py), or None. Checked before a name from a queue message or a names file
    is fetched or stored, so text no registry accepts is refused with that reason, never used."""
    rule = importlib.import_module(f"ssc_cli.registries.{ecosystem.value}.names")
    if len(name) > getattr(rule, "MAX_LENGTH", len(name)) or not rule.NAME.fullmatch(name):
        return f"not a valid {ecosystem.value} package name ({rule.RULE}): {name[:200]!r}"
    return None


def probes(ecosystem: Ecosystem, settings: Settings) -> list[tuple[str, str]]:
    """(setting, URL) pairs doctor checks with HEAD: a small document each registry serves at a
    known path, so a URL setting that reaches some server but not the registry shows up."""
    from ssc_cli.registries.npm.client import replicate_root_url

    pypi, npm, replicate = settings.pypi_url, settings.npm_url, settings.npm_replicate_url
    index, static = settings.crates_index_url, settings.crates_static_url
    table = {
        Ecosystem.PYPI: [("SSC_PYPI_URL", f"{pypi.rstrip('/')}/simple/")],
        Ecosystem.NPM: [
            ("SSC_NPM_URL", f"{npm.rstrip('/')}/-/ping"),
            ("SSC_NPM_REPLICATE_URL", replicate_root_url(replicate)),
        ],
        Ecosystem.MAVEN: [
            (
                "SSC_MAVEN_URL",
                f"{settings.maven_url.rstrip('/')}/.index/nexus-maven-repository-index.properties",
            )
        ],
        Ecosystem.NUGET: [("SSC_NUGET_URL", settings.nuget_url)],
        Ecosystem.CARGO: [
            ("SSC_CRATES_INDEX_URL", f"{index.rstrip('/')}/config.json"),
            ("SSC_CRATES_STATIC_URL", f"{static.rstrip('/')}/db-dump.tar.gz"),
        ],
        Ecosystem.RUBYGEMS: [("SSC_RUBYGEMS_URL", f"{settings.rubygems_url.rstrip('/')}/versions")],
    }
    return table[ecosystem]


def close_registry(registry: Registry) -> None:
    """Release what a client holds for the run (dump indexes, local index files), if anything."""
    close = getattr(registry, "close", None)
    if callable(close):
        close()


async def reachable(ecosystem: Ecosystem, settings: Settings, http: Http) -> bool:
    """Whether every probe URL of the registry (those doctor checks) answers, after the HTTP
    layer's retries, with something other than a connection error, a 5xx or a 429."""
    from ssc_cli.errors import RegistryUnavailable
    from ssc_cli.http import RETRY_STATUSES

    for _setting, url in probes(ecosystem, settings):
        try:
            status = await http.head(url)
        except RegistryUnavailable:
            return False
        if status in RETRY_STATUSES:
            return False
    return True
