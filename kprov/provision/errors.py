"""Errors of the provisioning engine.

Every error says where (file:line, task, template) and what to do, so the CLI can print it
as-is. They all derive from ProvisionError; the CLI catches that one type.
"""

from __future__ import annotations

import re

__all__ = [
    "ProvisionError",
    "error_location",
    "YamlError",
    "FileTooLarge",
    "InventoryError",
    "PlaybookError",
    "TemplateError",
    "UndefinedVariableError",
    "UnknownModuleError",
]


class ProvisionError(Exception):
    """Base of every engine error; str(err) is a complete, user-facing message."""


class YamlError(ProvisionError):
    """A YAML file that does not parse: names file:line:column."""

    def __init__(self, path: str, line: int, column: int, problem: str) -> None:
        self.path, self.line, self.column, self.problem = path, line, column, problem
        super().__init__(f"{path}:{line}:{column}: invalid YAML: {problem}")


class FileTooLarge(ProvisionError):
    """An inventory, vars or playbook file larger than the engine reads."""

    def __init__(self, path: str, size: int, limit: int) -> None:
        self.path, self.size, self.limit = path, size, limit
        super().__init__(f"{path}: {size:,} bytes is more than the {limit:,} an inventory, vars or"
                         " playbook file may hold; split it (group_vars/ and host_vars/ directories take"
                         " several files)")


class InventoryError(ProvisionError):
    """An inventory that cannot be understood."""


class PlaybookError(ProvisionError):
    """A playbook, role or task that cannot be understood."""


class RunParseError(PlaybookError):
    """What ansible-core refuses with a parser error while the run loads a file (a handler
    include's nested block): the whole run ends, not a host."""


class TemplateError(ProvisionError):
    """A Jinja2 template or expression that fails to render."""


class UndefinedVariableError(TemplateError):
    """A template used a variable that is not defined: names the task, template and variable."""

    def __init__(self, variable: str, template: str, task: str | None = None, detail: str = "") -> None:
        self.variable, self.template, self.task, self.detail = variable, template, task, detail
        where = f"task '{task}': " if task else ""
        extra = f" ({detail})" if detail and variable not in detail else ""
        super().__init__(
            f"{where}undefined variable '{variable}' in template {template}{extra}; "
            "define it (role defaults, group_vars, host_vars, -e) or guard it with `| default(...)`"
        )


class UnknownModuleError(PlaybookError):
    """A task names a module that neither the engine nor the module registry knows."""

    def __init__(self, name: str, closest: str | None, where: str) -> None:
        self.name, self.closest = name, closest
        hint = f"; did you mean '{closest}'?" if closest else ""
        super().__init__(f"{where}: unknown module '{name}'{hint}")


_LOCATION = re.compile(r"^(?P<file>[^\s:][^:]*?):(?P<line>\d+)(?::(?P<column>\d+))?:")


def error_location(err: BaseException) -> dict[str, object]:
    """Where an error points, as ``{"file", "line"[, "column"]}`` (empty when it names no
    place): a YamlError's own fields, else the ``path:line[:column]:`` its message opens with."""
    if isinstance(err, YamlError):
        return {"file": err.path, "line": err.line, "column": err.column}
    found = _LOCATION.match(str(err))
    if found is None:
        return {}
    where: dict[str, object] = {"file": found["file"], "line": int(found["line"])}
    if found["column"]:
        where["column"] = int(found["column"])
    return where
