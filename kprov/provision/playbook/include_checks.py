"""What ansible-core refuses in includes and imports when it loads them (parser errors).

``check_include_args``: an include's or import's arguments as the task loads, for the
dynamic includes too, so the play never starts (TaskInclude.check_options,
IncludeRole.load): a task file not named ("No file specified for <the action as written>"),
``apply`` on an import or other than a mapping, a role's ``*_from`` not a string.

``resolved``: the tasks of a file an ``include_tasks`` loads while the play runs, whose
collection actions ansible-core resolves as it loads the file: one that no collection has is
its parser error ("couldn't resolve module/action"), which ends the run (a block's rescue
never sees it; the linear strategy re-raises AnsibleParserError). kprov defers such names to
run time elsewhere (a play's own tasks: ansible_names.deferrable).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kprov.provision.errors import PlaybookError, RunParseError
from kprov.provision.playbook.model import Block, Item

__all__ = ["check_include_args", "resolved"]

_ROLE_FILE_ARGS = ("tasks_from", "vars_from", "defaults_from", "handlers_from")


def check_include_args(action: str, args: Mapping[str, Any], where: str, written: str) -> None:
    """PlaybookError when ansible-core refuses these arguments (see the module docstring)."""
    if action in ("include_tasks", "import_tasks") and not (args.get("_raw_params") or args.get("file")):
        raise PlaybookError(f"{where}: No file specified for {written}")
    apply = args.get("apply")
    if apply and action not in ("include_tasks", "include_role"):
        raise PlaybookError(f"{where}: Invalid options for {action}: apply")
    if apply is not None and not isinstance(apply, dict):
        raise PlaybookError(f"{where}: Expected a dict for apply but got {type(apply)} instead")
    for key in _ROLE_FILE_ARGS if action in ("include_role", "import_role") else ():
        if key in args and not isinstance(args[key], str):
            raise PlaybookError(f"{where}: Expected a string for {key} but got {type(args[key])} instead")


def resolved(items: list[Item], known: frozenset[str], resolvable: Callable[[str], bool]) -> list[Item]:
    """``items`` (an included file's), or RunParseError for a collection action no collection has."""
    for item in items:
        if isinstance(item, Block):
            resolved([*item.block, *item.rescue, *item.always], known, resolvable)
        elif (item.action.count(".") >= 2 and "{{" not in item.action and item.action not in known
              and not item.action.startswith("ansible.") and not resolvable(item.action)):
            raise RunParseError(f"{item.origin}: couldn't resolve module/action '{item.action}'. "
                                "This often indicates a misspelling, missing collection, or "
                                "incorrect module path.")
    return items
