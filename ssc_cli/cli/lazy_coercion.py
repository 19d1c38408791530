"""Typer's parameter converters built only when a value needs converting (issue 8).

Typer 0.29 converts every parameter through a pydantic TypeAdapter that it builds the first time
the parameter is processed, before it looks at the value: the first option of any command line
imports pydantic (about 100 ms), even `ssc graph --help`, whose callback options are all absent.
Here each parameter gets a stand-in that builds typer's own converter at the first value that
needs it. A value that typer's converter returns unchanged never builds one: an absent value
(None, which typer passes through without its converter too), a `str` for a `str` parameter, an
`int` for an `int` parameter without bounds (the `-v` count); and a plain decimal number within an
`int` parameter's bounds (`--limit 10`) is what int() makes of it. Everything else, and every
error message, is typer's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from typer import _coercion, core

if TYPE_CHECKING:
    from typer._click import Context
    from typer.core import _TyperParameter

_typer_build = _coercion.build_runtime_param
_PLAIN_INT = re.compile(r"0|[1-9][0-9]{0,17}")  # no sign, space, underscore or leading zero


@dataclass(frozen=True)
class LazyRuntimeParam(_coercion.RuntimeParam):
    """Typer's converter for one parameter, built at the first value it would change."""

    descriptor: _coercion.TypeDescriptor

    @cached_property
    def _built(self) -> _coercion.RuntimeParam:
        return _typer_build(self.descriptor)

    def _plain(self, value: Any) -> tuple[bool, Any]:
        """(True, the value typer's converter would return) where that is sure, else (False, _)."""
        info = self.parameter_info
        if info.parser is not None:
            return False, None
        if self.annotation is str:
            return type(value) is str, value
        if self.annotation is int and not info.clamp:
            if type(value) is str and _PLAIN_INT.fullmatch(value):
                value = int(value)
            if type(value) is not int:
                return False, None
            low, high = info.min, info.max
            return (low is None or value >= low) and (high is None or value <= high), value
        return False, None

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Context) -> Any:
        plain, converted = self._plain(value)
        if plain:
            return converted
        return self._built._coerce_value(value, param=param, ctx=ctx)


def build_runtime_param(descriptor: _coercion.TypeDescriptor) -> _coercion.RuntimeParam:
    """A LazyRuntimeParam; file parameters (which open files, no adapter) as typer builds them."""
    if descriptor.file_annotation is not None:
        return _typer_build(descriptor)
    return LazyRuntimeParam(
        parameter_info=descriptor.parameter_info,
        annotation=descriptor.annotation,
        descriptor=descriptor,
    )


def install() -> None:
    """Make typer's parameters (typer.core builds them) use build_runtime_param."""
    core.build_runtime_param = build_runtime_param  # type: ignore[attr-defined]  # typer.core imports it from _coercion
