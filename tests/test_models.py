"""Ecosystems, purls, version order, repository URLs, names files, settings."""

from __future__ import annotations

import pytest

from ssc_cli import registries
from ssc_cli.errors import ConfigError
from ssc_cli.models import Ecosystem, read_names_file, serial_numbers
from ssc_cli.repository import normalize_repository_url, vendor_of
from ssc_cli.settings import load_settings, redact_url


@pytest.mark.parametrize(
    ("eco", "name", "purl"),
    [
        (Ecosystem.PYPI, "requests", "pkg:pypi/requests"),
        (Ecosystem.NPM, "@scope/name", "pkg:npm/%40scope/name"),
        (
            Ecosystem.MAVEN,
            "org.apache.commons:commons-lang3",
            "pkg:maven/org.apache.commons/commons-lang3",
        ),
        (Ecosystem.NUGET, "newtonsoft.json", "pkg:nuget/newtonsoft.json"),
        (Ecosystem.CARGO, "serde", "pkg:cargo/serde"),
        (Ecosystem.RUBYGEMS, "rails", "pkg:gem/rails"),
    ],
)
def test_purls(eco: Ecosystem, name: str, purl: str) -> None:
    assert eco.purl(name) == purl
    assert eco.purl(name, "1.0.0") == purl + "@1.0.0"


def test_pep503_name_is_what_packaging_returns() -> None:
    # models.pep503_name spells out packaging's canonicalize_name so that commands reading no
    # version need not load packaging (issue 8); every string of up to 4 of these characters,
    # separators, cases and letters whose lower case is longer included, and some real names.
    import itertools

    from packaging.utils import canonicalize_name

    from ssc_cli.models import pep503_name

    alphabet = "aZ-_.9 İẞ"
    names = [
        "".join(chars)
        for length in range(5)
        for chars in itertools.product(alphabet, repeat=length)
    ]
    names += ["Django", "oslo.concurrency", "zope.interface", "Flask_SQLAlchemy", "a--_..b", "-x-"]
    assert [pep503_name(n) for n in names] == [canonicalize_name(n) for n in names]


def test_name_normalisation() -> None:
    assert Ecosystem.PYPI.normalize_name("Foo_Bar.baz") == "foo-bar-baz"
    assert Ecosystem.NPM.normalize_name("JSONStream") == "JSONStream"  # npm names as published
    assert Ecosystem.NUGET.normalize_name("Newtonsoft.Json") == "newtonsoft.json"
    assert Ecosystem.MAVEN.normalize_name("Org.X:Y") == "Org.X:Y"


def test_ecosystem_aliases() -> None:
    assert Ecosystem.parse("crates") is Ecosystem.CARGO
    assert Ecosystem.parse("gem") is Ecosystem.RUBYGEMS
    assert Ecosystem.parse("PyPIPackage") is Ecosystem.PYPI
    with pytest.raises(ValueError, match="unknown ecosystem"):
        Ecosystem.parse("cobol")


def test_serial_numbers_keep_unparseable_at_minus_one() -> None:
    serials = serial_numbers(Ecosystem.PYPI, ["1.0", "0.9", "1.0rc1", "not a version", "2.0.post1"])
    assert serials == {"0.9": 0, "1.0rc1": 1, "1.0": 2, "2.0.post1": 3, "not a version": -1}
    assert serial_numbers(Ecosystem.NPM, ["1.10.0", "1.2.0", "1.2.0-beta.1"]) == {
        "1.2.0-beta.1": 0,
        "1.2.0": 1,
        "1.10.0": 2,
    }


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("git+https://github.com/psf/requests.git", "https://github.com/psf/requests"),
        ("git@github.com:psf/requests.git", "https://github.com/psf/requests"),
        ("ssh://git@gitlab.com/group/proj", "https://gitlab.com/group/proj"),
        ("git://github.com/a/b", "https://github.com/a/b"),
        ("https://www.github.com/a/b/tree/main/docs", "https://github.com/a/b"),
        ("github:user/repo", "https://github.com/user/repo"),
        ("https://example.com/a/b", None),
        ("https://github.com/onlyowner", None),
        # urlsplit raises "Invalid IPv6 URL" on these (found by benchmarks/fuzz_parsers.py)
        ("git+https:]]]//ictim.git", None),
        ("https://[github.com/a/b", None),
        ("https://[not-an-address]/a/b", None),
        (None, None),
    ],
)
def test_repository_urls(url: str | None, normalized: str | None) -> None:
    assert normalize_repository_url(url) == normalized


def test_vendor() -> None:
    assert vendor_of("https://github.com/psf/requests") == "psf"
    assert vendor_of("n/a") == "n/a"


def _pypi(name: str) -> str | None:
    return registries.name_problem(Ecosystem.PYPI, name)


def test_names_file_formats() -> None:
    assert read_names_file("a\n# comment\n\nb  # trailing\n", _pypi) == ["a", "b"]
    assert read_names_file('["@s/x", "y"]', lambda name: None) == ["@s/x", "y"]
    with pytest.raises(ValueError):
        read_names_file("[1, 2]", _pypi)


def test_names_file_entries_that_are_no_names_are_errors_naming_them() -> None:
    with pytest.raises(ValueError, match=r"line 3: not a valid pypi .*'foo bar'.*line 4: .*'tab"):
        read_names_file("ok\n\nfoo bar # two words\ntab\tname\n", _pypi)
    with pytest.raises(ValueError, match=r"item 2: not a valid pypi .*'x\\x00y'"):
        read_names_file('["a", "x\\u0000y"]', _pypi)
    with pytest.raises(ValueError, match=r"and 4 more"):
        read_names_file("".join(f"bad name{i}\n" for i in range(7)), _pypi)


def test_settings_aliases_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PORT", "7001")
    monkeypatch.setenv("REDIS_STREAM", "package-extraction")
    monkeypatch.setenv("GRAPH_DB_PASSWORD", "s3cret")
    settings = load_settings()
    assert settings.redis_port == 7001 and "s3cret" not in repr(settings)
    monkeypatch.setenv("SSC_PYPI_RATE", "0")
    monkeypatch.setenv("SSC_DEPENDENCY_KINDS", "runtime,bogus")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "SSC_PYPI_RATE" in str(info.value) and "SSC_DEPENDENCY_KINDS" in str(info.value)


def test_registry_url_credentials_leave_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSC_PYPI_URL", "https://ci:t%40ken@mirror.example:8443/pypi")
    monkeypatch.setenv("SSC_NPM_URL", "https://registry.npmjs.org")
    settings = load_settings()
    assert settings.pypi_url == "https://mirror.example:8443/pypi"
    assert settings.registry_credentials == {"mirror.example:8443": ("ci", "t@ken")}
    assert "t@ken" not in repr(settings) and "t%40ken" not in repr(settings)


def test_redact_url() -> None:
    assert redact_url("mongodb://user:pw@host:27017/admin") == "mongodb://user:***@host:27017/admin"
    assert redact_url("bolt://host:7687") == "bolt://host:7687"


@pytest.mark.parametrize(
    "version", ["1.0.0", "1.0+local.7", "2.0.0-rc.1+build.5", "1.0 beta", "v1/2", "ä1"]
)
@pytest.mark.parametrize("eco", list(Ecosystem))
def test_fast_purl_matches_packageurl(eco: Ecosystem, version: str) -> None:
    from packageurl import PackageURL

    name = {"maven": "g.x:a-b", "npm": "@s/n"}.get(eco.value, "pkg-a")
    namespace, _, short = (
        name.partition(":" if eco is Ecosystem.MAVEN else "/")
        if eco.value in ("maven", "npm")
        else (None, "", name)
    )
    expected = PackageURL(
        type=eco.purl_type, namespace=namespace, name=short, version=version
    ).to_string()
    assert eco.purl(name, version) == expected


def test_order_matches_univers_objects() -> None:
    from univers.versions import MavenVersion

    names = ["1.0", "1.0-SNAPSHOT", "1.0-alpha-1", "1.0.1", "2", "1.0-rc1", "1.0-sp"]
    by_objects = [v.string for v in sorted(MavenVersion(n) for n in names)]
    serials = serial_numbers(Ecosystem.MAVEN, names)
    assert sorted(names, key=serials.__getitem__) == by_objects
