"""Help and names (issue 9.9): flags show no type, every --help ends with the exit codes and
where the settings are, and the global options work after the command too."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from ssc_cli.cli.app import app, hoist_global_options
from tests.conftest import Ssc


def _command_paths(group: typer.Typer) -> Iterator[list[str]]:
    command = typer.main.get_command(group)

    def walk(cmd: object, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])

    yield from walk(command, [])


PATHS = list(_command_paths(app))


def _help(path: list[str]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())


def test_every_command_is_walked() -> None:
    names = {" ".join(p) for p in PATHS}
    assert {"", "ingest", "graph show", "queue retry-dead", "vulns sync", "licenses sync"} <= names


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "ssc")
def test_help_shows_no_bool_type_and_ends_with_exit_codes_and_settings(path: list[str]) -> None:
    text = _help(path)
    assert "<bool>" not in text
    tail = text[text.rindex("Exit codes:") :]
    for code in ("0 done", "1 finished", "2 usage or settings", "70 internal error", "75 another"):
        assert code in tail
    assert tail.endswith("`ssc doctor` shows what is in force.")
    assert "docs/configuration.md" in tail


def test_options_that_take_a_value_keep_their_type() -> None:
    text = _help(["ingest"])
    assert re.search(r"--limit <int range>", text)
    assert re.search(r"--names-from <path>", text)


def test_global_options_are_hoisted_before_the_command() -> None:
    args = ["ingest", "pypi", "--limit", "3", "-q", "--json", "-vv", "--env-file", "x.env"]
    assert hoist_global_options(args) == [
        "-q", "--json", "-vv", "--env-file", "x.env", "ingest", "pypi", "--limit", "3",
    ]  # fmt: skip
    assert hoist_global_options(["check", "--env-file=a.env", "--verbose"]) == [
        "--env-file=a.env", "--verbose", "check",
    ]  # fmt: skip
    # After `--` nothing moves; a lone `-` or `-x` is not -v.
    assert hoist_global_options(["enqueue", "npm", "--", "-q"]) == ["enqueue", "npm", "--", "-q"]
    assert hoist_global_options(["x", "-", "-x"]) == ["x", "-", "-x"]


def test_env_file_json_and_quiet_after_the_command(ssc: Ssc) -> None:
    bad = ssc.home / "bad.env"
    bad.write_text("SSC_REDIS_URL=http://localhost:6379\n", encoding="utf-8")
    result = ssc("check", "--env-file", str(bad), "--json", expect=2)
    assert "SSC_REDIS_URL" in result.stderr
    assert json.loads(result.stdout)["exit_code"] == 2
    # -q after the command: the summary line (stderr) is gone; the exit code is unchanged.
    loud = ssc("check")
    assert loud.stderr.strip()
    quiet = ssc("check", "-q")
    assert "check" not in quiet.stderr


def test_names_from_lines_that_are_no_names_are_reported_not_dropped(ssc: Ssc) -> None:
    names = ssc.home / "names.txt"
    names.write_text("requests\nfoo bar\n", encoding="utf-8")
    result = ssc("ingest", "pypi", "--names-from", str(names), expect=2)
    assert "line 2: not a valid pypi package name" in result.stderr
    assert "'foo bar'" in result.stderr
    assert "Traceback" not in result.stderr
