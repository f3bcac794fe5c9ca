"""A template's Jinja2 settings: the template task's options and a ``#jinja2:`` first line.

ansible-core renders each template with settings that a template task may set
(``trim_blocks``, ``lstrip_blocks``, ``newline_sequence`` and the block, variable and
comment start/end strings) and that the template itself may override in a first line
such as ``#jinja2: trim_blocks: False, lstrip_blocks: True``: comma-separated ``key: value``
pairs, each value a Python literal. That line is read as settings and is not part of the
output; a key that is not one of :class:`TemplateSettings`' fields, a pair without ``:``, an
empty pair or a header without a newline after it is a syntax error (ansible-core 2.19).

:class:`TemplateSettings` is frozen and hashable: the engine keeps one Jinja2 environment
overlay and one compiled template per distinct settings (templates.TemplateEngine).
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kprov.provision.errors import TemplateError

__all__ = ["DEFAULT_SETTINGS", "HEADER", "TemplateSettings", "split_header"]

HEADER = "#jinja2:"
_NEWLINES = ("\n", "\r", "\r\n")


@dataclass(frozen=True)
class TemplateSettings:
    """Jinja2 environment settings as Ansible's defaults have them (``trim_blocks`` on)."""

    block_start_string: str = "{%"
    block_end_string: str = "%}"
    variable_start_string: str = "{{"
    variable_end_string: str = "}}"
    comment_start_string: str = "{#"
    comment_end_string: str = "#}"
    line_statement_prefix: str | None = None
    line_comment_prefix: str | None = None
    trim_blocks: bool = True
    lstrip_blocks: bool = False
    newline_sequence: str = "\n"
    keep_trailing_newline: bool = False

    def __post_init__(self) -> None:
        for name, value in dataclasses.asdict(self).items():
            if name in ("trim_blocks", "lstrip_blocks", "keep_trailing_newline"):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be a boolean, got {value!r}")
            elif not isinstance(value, str) and not (name.startswith("line_") and value is None):
                raise ValueError(f"{name} must be a string, got {value!r}")
        if self.newline_sequence not in _NEWLINES:
            raise ValueError(r"newline_sequence needs to be one of: \n, \r or \r\n")
        starts = (self.block_start_string, self.variable_start_string, self.comment_start_string)
        if len(set(starts)) != len(starts):
            raise ValueError("Block, variable and comment start strings must be different.")

    def overlay(self) -> dict[str, Any]:
        """The settings that differ from the defaults (Jinja2's ``Environment.overlay`` kwargs)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != f.default}

    def merged(self, changes: Mapping[str, Any]) -> TemplateSettings:
        """These settings with ``changes`` (ValueError: an unknown or invalid one)."""
        unknown = set(changes) - _FIELDS
        if unknown:
            raise ValueError(f"unknown template setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes) if changes else self


DEFAULT_SETTINGS = TemplateSettings()
_FIELDS = frozenset(f.name for f in dataclasses.fields(TemplateSettings))


def split_header(source: str, base: TemplateSettings, where: str) -> tuple[str, TemplateSettings]:
    """The template without its ``#jinja2:`` line and the settings it asks for (over ``base``);
    a source without that line as it is."""
    if not source.startswith(HEADER):
        return source, base
    eol = source.find("\n")
    if eol == -1:
        raise TemplateError(f"{where}: syntax error in template: missing newline after {HEADER!r} override")
    changes: dict[str, Any] = {}
    for pair in source[len(HEADER):eol].split(","):
        if not pair.strip():
            raise TemplateError(f"{where}: syntax error in template: empty {HEADER!r} override pair")
        key, sep, value = pair.partition(":")
        if not sep:
            raise TemplateError(f"{where}: syntax error in template: missing key-value separator ':' in "
                                f"{HEADER!r} override pair {pair!r}")
        key = key.strip()
        if key not in _FIELDS:
            raise TemplateError(f"{where}: syntax error in template: invalid {HEADER!r} override key {key!r}")
        try:
            changes[key] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            raise TemplateError(f"{where}: syntax error in template: {HEADER!r} override {key!r}: "
                                f"{value.strip()!r} is not a Python literal") from None
    try:
        return source[eol + 1:], base.merged(changes)
    except ValueError as err:
        raise TemplateError(f"{where}: syntax error in template: {HEADER!r} override: {err}") from None
