"""Typer's argument coercion without pydantic for the plain values kprov's commands take.

Typer 0.2x coerces every parameter through a pydantic ``TypeAdapter`` built while the command
line is parsed: importing pydantic and building the adapters was a visible share of a no-op
``kprov apply``'s CPU (figures: docs/decisions/0051-figures-live-in-records.md).
``LightCommand`` (``cls=`` of a command) gives each parameter, before parsing, a coercion that
returns what pydantic would for the plain cases — a ``str`` for ``str``, an ``int`` for
``int`` (or a canonical decimal string), a list for ``list[str]`` — and hands every other
value and type to typer's own coercion, so results, errors and help stay typer's. With a typer
without that machinery (older releases did not use pydantic) it is typer's command as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args, get_origin

from typer.core import TyperCommand, TyperGroup

__all__ = ["LightCommand", "LightGroup", "light_value"]

_MISS = object()  # light_value: not a plain case, typer's coercion decides


def light_value(annotation: Any, value: Any) -> Any:
    """``value`` as typer's pydantic coercion returns it for ``annotation``, or ``_MISS``."""
    if annotation is str or annotation is bool:
        return value if type(value) is annotation else _MISS
    if annotation is int:
        if type(value) is int:
            return value
        if type(value) is str and value.isascii() and value.isdigit() and str(int(value)) == value:
            return int(value)
        return _MISS
    if (get_origin(annotation) is list and get_args(annotation) == (str,)
            and isinstance(value, list | tuple) and all(type(item) is str for item in value)):
        return list(value)
    return _MISS


try:  # typer's runtime coercion (typer >= 0.2x); absent: nothing to make lighter
    from typer._coercion import RuntimeParam, build_runtime_param
except ImportError:  # pragma: no cover - depends on the installed typer
    RuntimeParam = None  # type: ignore[assignment,misc]


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _LightParam(RuntimeParam):  # type: ignore[misc,valid-type]
        descriptor: Any = None

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            plain = light_value(self.annotation, value)
            if plain is not _MISS:
                return plain
            return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)


def _lighten(params: list[Any]) -> None:
    if RuntimeParam is None:
        return
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if (descriptor is None or getattr(param, "_runtime_param", _MISS) is not None
                or descriptor.file_annotation is not None or descriptor.parameter_info.parser is not None):
            continue
        info = descriptor.parameter_info
        if getattr(info, "min", None) is not None or getattr(info, "max", None) is not None:
            continue  # a constrained number: typer checks it
        param._runtime_param = _LightParam(parameter_info=info, annotation=descriptor.annotation,
                                           descriptor=descriptor)


class LightCommand(TyperCommand):
    """A Typer command whose plain arguments are coerced without building pydantic adapters."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        _lighten(self.params)
        return super().parse_args(ctx, args)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # made per context; its unset value is coerced too
        _lighten([option] if option is not None else [])
        return option


class LightGroup(TyperGroup):
    """The command group (``Typer(cls=...)``): its own options and its --help, as LightCommand."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        _lighten(self.params)
        return super().parse_args(ctx, args)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        _lighten([option] if option is not None else [])
        return option
