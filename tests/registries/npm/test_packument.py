"""npm packument parsing: specs, dependency kinds, repository shapes, licences, import names."""

from __future__ import annotations

import pytest

from ssc_cli.errors import MalformedPayload
from ssc_cli.registries.npm.packument import (
    import_names_from_members,
    import_version,
    newest_version,
    parse_packument,
    parse_spec,
    repository_url,
    rev_generation,
    version_requirements,
)

ALL_KINDS = frozenset({"runtime", "optional", "peer", "dev"})


@pytest.mark.parametrize(
    ("spec", "target", "constraints", "extra"),
    [
        ("^1.2.3", "dep", "^1.2.3", {}),
        (">=1 <2 || 3.x", "dep", ">=1 <2 || 3.x", {}),
        ("", "dep", "any", {}),
        ("*", "dep", "any", {}),
        ("latest", "dep", "any", {}),
        ("x.x", "dep", "any", {}),
        ("X", "dep", "any", {}),
        (None, "dep", "any", {}),
        ("next", "dep", "any", {"tag": "next"}),
        ("v1.2.3", "dep", "v1.2.3", {}),
        ("npm:real@^2.0.0", "real", "^2.0.0", {"alias": "dep"}),
        ("npm:@scope/Real@~1.0", "@scope/Real", "~1.0", {"alias": "dep"}),
        ("npm:real", "real", "any", {"alias": "dep"}),
        ("npm:not a name@1", "dep", "any", {"unresolvable": "npm:not a name@1"}),
        (
            "git+https://github.com/a/b.git",
            "dep",
            "any",
            {"unresolvable": "git+https://github.com/a/b.git"},
        ),
        ("github:a/b#v1", "dep", "any", {"unresolvable": "github:a/b#v1"}),
        ("a/b", "dep", "any", {"unresolvable": "a/b"}),
        ("https://example.com/x.tgz", "dep", "any", {"unresolvable": "https://example.com/x.tgz"}),
        ("file:../x", "dep", "any", {"unresolvable": "file:../x"}),
        ("workspace:^1.0.0", "dep", "any", {"unresolvable": "workspace:^1.0.0"}),
        ("link:../x", "dep", "any", {"unresolvable": "link:../x"}),
        # pnpm catalogs, JSR and other package managers' protocols are no registry range
        ("catalog:", "dep", "any", {"unresolvable": "catalog:"}),
        ("catalog:react18", "dep", "any", {"unresolvable": "catalog:react18"}),
        ("jsr:@std/path@^1", "dep", "any", {"unresolvable": "jsr:@std/path@^1"}),
        ("exec:./build.js", "dep", "any", {"unresolvable": "exec:./build.js"}),
        ("npm:real@catalog:", "real", "any", {"alias": "dep", "unresolvable": "catalog:"}),
    ],
)
def test_parse_spec(spec: object, target: str, constraints: str, extra: dict[str, str]) -> None:
    parsed = parse_spec("dep", spec)
    assert (parsed.target, parsed.constraints, parsed.extra) == (target, constraints, extra)


def test_numeric_spec_is_kept_as_a_range() -> None:
    assert parse_spec("dep", 1).constraints == "1"


MANIFEST = {
    "dependencies": {"a": "^1.0.0", "opt": "^2.0.0", "alias": "npm:real@^3", "": "1", "Up": "1.x"},
    "optionalDependencies": {"opt": "^2.0.0"},
    "peerDependencies": {"react": ">=16", "maybe": "*"},
    "peerDependenciesMeta": {"maybe": {"optional": True}},
    "devDependencies": {"jest": "^29"},
}


def test_runtime_only_by_default_and_optional_dependencies_stay_out() -> None:
    reqs = version_requirements(MANIFEST, frozenset({"runtime"}))
    assert [(r.name, r.constraints, r.kind) for r in reqs] == [
        ("a", "^1.0.0", "runtime"),
        ("real", "^3", "runtime"),
        ("Up", "1.x", "runtime"),  # npm names are never lower-cased
    ]
    assert reqs[1].extra == {"alias": "alias"} and reqs[1].raw_constraints == "npm:real@^3"


def test_every_kind_when_configured() -> None:
    reqs = version_requirements(MANIFEST, ALL_KINDS)
    by = {(r.name, r.kind): r for r in reqs}
    assert by[("opt", "optional")].optional is True
    assert ("opt", "runtime") not in by
    assert by[("react", "peer")].optional is False
    assert by[("maybe", "peer")].optional is True and by[("maybe", "peer")].constraints == "any"
    assert by[("jest", "dev")].constraints == "^29"


def test_odd_dependency_shapes_never_crash() -> None:
    assert [r.name for r in version_requirements({"dependencies": ["x", 3]}, ALL_KINDS)] == ["x"]
    assert version_requirements({"dependencies": "nope"}, ALL_KINDS) == []
    assert version_requirements({"dependencies": {"x": {"version": 1}}}, ALL_KINDS)[0].name == "x"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("github:user/repo", "https://github.com/user/repo"),
        ("user/repo", "https://github.com/user/repo"),
        ("gitlab:grp/proj", "https://gitlab.com/grp/proj"),
        ({"type": "git", "url": "git+https://github.com/a/b.git"}, "https://github.com/a/b"),
        (
            {"type": "git", "url": "git@github.com:a/b.git", "directory": "x"},
            "https://github.com/a/b",
        ),
        (
            [{"type": "svn", "url": "https://svn.example.org/x"}, "git://github.com/c/d.git"],
            "https://github.com/c/d",
        ),
        ("https://example.org/home", None),
        (42, None),
    ],
)
def test_repository_shapes(value: object, expected: str | None) -> None:
    assert repository_url(value) == expected


def test_packument_versions_dates_deprecation_licences_and_rev() -> None:
    doc = {
        "_rev": "7-abc",
        "name": "@Scope/Pkg",
        "dist-tags": {"latest": "1.1.0"},
        "license": {"type": "MIT", "url": "x"},
        "bugs": {"url": "https://github.com/o/r/issues"},
        "time": {"1.0.0": "2020-01-01T00:00:00.000Z", "1.1.0": "2021-01-01T00:00:00.000Z"},
        "versions": {
            "1.1.0": {"license": "MIT", "dependencies": {"b": "2"}, "deprecated": "use 2"},
            "1.0.0": {"licenses": [{"type": "BSD"}], "dependencies": {"a": "1"}, "deprecated": ""},
        },
    }
    record = parse_packument(doc, "@Scope/Pkg", frozenset({"runtime"}))
    assert record.name == "@Scope/Pkg" and record.token == "7-abc"
    assert record.repository_url == "https://github.com/o/r" and record.vendor == "o"
    assert record.licenses == {"license": {"type": "MIT", "url": "x"}}
    versions = {v.name: v for v in record.versions}
    # each version carries its own dependencies (securechain-compat.md §6-5)
    assert [r.name for r in versions["1.0.0"].requirements or []] == ["a"]
    assert [r.name for r in versions["1.1.0"].requirements or []] == ["b"]
    assert versions["1.1.0"].deprecated == "use 2" and versions["1.0.0"].deprecated is None
    assert versions["1.0.0"].release_date == "2020-01-01T00:00:00.000Z"
    assert versions["1.0.0"].licenses == {"licenses": [{"type": "BSD"}]}


@pytest.mark.parametrize("doc", [[], {"versions": []}, {"versions": {"1.0.0": "x"}}])
def test_malformed_packuments(doc: object) -> None:
    with pytest.raises(MalformedPayload, match="npm package 'p'"):
        parse_packument(doc, "p", frozenset({"runtime"}))


def test_import_names_from_tarball_members() -> None:
    members = [
        "package",
        "package/package.json",
        "package/index.js",
        "package/lib/a.mjs",
        "package/lib/index.cjs",
        "package/lib/types.d.ts",
        "package/src/b.ts",
        "package/dist/x.min.js",
        "package/test/t.js",
        "package/node_modules/dep/index.js",
        "package/.github/x.js",
        "package/lib/internal/y.js",
        "package/README.md",
    ]
    assert import_names_from_members("@s/p", members) == [
        "@s/p",
        "@s/p/lib",
        "@s/p/lib/a",
        "@s/p/src/b",
    ]


def test_newest_version_and_revisions() -> None:
    assert newest_version({"1.0.0": {}, "1.10.0": {}, "1.9.0": {}, "junk": {}}) == "1.10.0"
    assert newest_version({"junk": {}}) is None
    assert rev_generation("12-abc") == 12 and rev_generation(None) == 0


def test_import_version_is_the_latest_tag_not_the_highest_version() -> None:
    versions = {"1.0.0": {}, "2.0.0-beta.1": {}, "0.9.0": {}}
    assert import_version({"dist-tags": {"latest": "1.0.0"}, "versions": versions}) == "1.0.0"
    # a latest tag naming no published version, or none at all: the highest version
    assert import_version({"dist-tags": {"latest": "3.0.0"}, "versions": versions}) == (
        "2.0.0-beta.1"
    )
    assert import_version({"versions": versions}) == "2.0.0-beta.1"
    assert import_version({"versions": []}) is None
