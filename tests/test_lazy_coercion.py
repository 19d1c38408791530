"""Typer's converters built lazily (ssc_cli/cli/lazy_coercion.py) give the values and the errors
typer's own give: the same command lines through both, compared (issue 8)."""

from __future__ import annotations

import enum
from datetime import datetime
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer import _coercion, core
from typer.testing import CliRunner

from ssc_cli.cli import lazy_coercion


class Colour(enum.Enum):
    red = "red"
    blue = "blue"


def _app() -> typer.Typer:
    """A fresh app each time: typer caches a parameter's converter on the parameter."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command()
    def show(
        name: Annotated[str, typer.Argument()],
        verbose: Annotated[int, typer.Option("-v", count=True)] = 0,
        limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
        ratio: Annotated[float, typer.Option("--ratio")] = 0.5,
        count: Annotated[int, typer.Option("--count")] = 3,
        env_file: Annotated[Path | None, typer.Option("--env-file")] = None,
        colour: Annotated[Colour, typer.Option("--colour")] = Colour.red,
        tags: Annotated[list[str] | None, typer.Option("--tag")] = None,
        when: Annotated[datetime | None, typer.Option("--when")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
        label: Annotated[str, typer.Option("--label", parser=str.upper)] = "x",
        page: Annotated[int, typer.Option("--page", min=1, max=3)] = 1,
        pct: Annotated[list[int] | None, typer.Option("--pct", max=100, clamp=True)] = None,
    ) -> None:
        values = (name, verbose, limit, ratio, count, env_file, colour, tags, when, dry_run)
        values += (label, page, pct)
        typer.echo(repr(values))

    @app.command()
    def other() -> None:
        """A second command, so `show` is named on the command line."""

    return app


ARGS = [
    ["show", "pypi"],
    ["show", "pypi", "-vvv", "--limit", "2", "--ratio", "1.5", "--count", "7"],
    ["show", "pypi", "--limit", "0"],
    ["show", "pypi", "--limit", "x"],
    ["show", "pypi", "--count", " 12 "],
    ["show", "pypi", "--count", "007", "--limit", "+3"],
    ["show", "pypi", "--count", "1_000", "--limit", "１２"],
    ["show", "pypi", "--count", "-4", "--limit", "99999999999999999999999"],
    ["show", "pypi", "--count", "0", "--limit", "1"],
    ["show", "pypi", "--limit", "-1"],
    ["show", "pypi", "--page", "0"],
    ["show", "pypi", "--pct", "150", "--pct", "5"],
    ["show", "pypi", "--page", "3", "--pct", "100"],
    ["show", "pypi", "--page", "4"],
    ["show", "pypi", "--count", "1.5"],
    ["show", "pypi", "--env-file", "a/b.env", "--colour", "blue", "--tag", "a", "--tag", "b"],
    ["show", "pypi", "--colour", "green"],
    ["show", "pypi", "--when", "2026-12-04", "--dry-run", "--label", "yes"],
    ["show", "pypi", "--when", "yesterday"],
    ["show", "--help"],
    ["show"],
]


def _run(monkeypatch: pytest.MonkeyPatch, builder: object, args: list[str]) -> tuple[int, str]:
    monkeypatch.setattr(core, "build_runtime_param", builder, raising=False)
    result = CliRunner().invoke(_app(), args)
    return result.exit_code, result.output


@pytest.mark.parametrize("args", ARGS, ids=" ".join)
def test_same_values_and_errors_as_typers_own(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    own = _run(monkeypatch, _coercion.build_runtime_param, args)
    lazy = _run(monkeypatch, lazy_coercion.build_runtime_param, args)
    assert lazy == own


def test_an_absent_or_unchanged_value_builds_no_converter() -> None:
    descriptor = _coercion.resolve_type_descriptor(int, typer.models.OptionInfo())
    param = lazy_coercion.build_runtime_param(descriptor)
    assert isinstance(param, lazy_coercion.LazyRuntimeParam)
    assert param._coerce_value(3, param=None, ctx=None) == 3  # type: ignore[arg-type]
    assert "_built" not in vars(param)
    assert param._coerce_value("4", param=None, ctx=None) == 4  # type: ignore[arg-type]
    assert "_built" not in vars(param)  # a plain decimal number: int() of it
    assert param._coerce_value(" 5", param=None, ctx=None) == 5  # type: ignore[arg-type]
    assert "_built" in vars(param)  # anything else: typer's own converter
