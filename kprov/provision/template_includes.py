"""Where ``{% include %}``, ``{% import %}`` and ``{% extends %}`` find other templates.

ansible-core renders a template file with a Jinja2 search path: for the ``template`` lookup,
the template's own folder, then each ``ansible_search_path`` directory's ``templates/``
subfolder and the directory itself; for the ``template`` action, the same entries with the
playbook's folder and the template's folder appended (both before the ``templates/`` split).

kprov has one Jinja2 environment shared by the host threads, so its loader holds no path of
its own: :meth:`IncludeLoader.searching` sets the path for the current thread while one file
renders (nested renders see the innermost path), and the environment keeps no template cache
(two roles may each have a ``header.j2``). Also here: the variables a file's render adds
(``template_vars``) and how a rendered text is read back as a literal (``literal_value``).
"""

from __future__ import annotations

import ast
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["ANSIBLE_MANAGED", "IncludeLoader", "action_search_path", "literal_value", "lookup_search_path",
           "template_vars"]

ANSIBLE_MANAGED = "Ansible managed"  # ansible-core's default DEFAULT_MANAGED_STR


class IncludeLoader(jinja2.BaseLoader):
    """A file loader over the search path of the render running in this thread."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def searching(self, paths: Sequence[Path]) -> Iterator[None]:
        previous = getattr(self._local, "paths", ())
        self._local.paths = tuple(paths)
        try:
            yield
        finally:
            self._local.paths = previous

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str, Callable[[], bool]]:
        for base in getattr(self._local, "paths", ()):
            candidate = base / template
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8"), str(candidate), lambda: False
        raise jinja2.TemplateNotFound(template)


def _with_templates(paths: Sequence[Any]) -> list[Path]:
    out: list[Path] = []
    for entry in paths:
        out += [Path(os.path.join(str(entry), "templates")), Path(str(entry))]
    return out


def _search_path(variables: Mapping[str, Any]) -> list[Any]:
    found = variables.get("ansible_search_path") if "ansible_search_path" in variables else None
    return list(found) if isinstance(found, list | tuple) else []


def lookup_search_path(variables: Mapping[str, Any], template: Path) -> list[Path]:
    """The ``template`` lookup's include path for ``template``."""
    return [template.parent, *_with_templates(_search_path(variables))]


def action_search_path(variables: Mapping[str, Any], template: Path) -> list[Path]:
    """The ``template`` action's include path for ``template``."""
    base = variables.get("playbook_dir", ".") if "playbook_dir" in variables else "."
    return _with_templates([*_search_path(variables), base, template.parent])


def template_vars(source: Path | None) -> dict[str, Any]:
    """The variables Ansible's template action adds while it renders ``source``: ``ansible_managed``
    (its default text, so re-renders stay byte-identical) and where the template lives."""
    out: dict[str, Any] = {"ansible_managed": ANSIBLE_MANAGED, "template_host": os.uname().nodename}
    if source is not None:
        out["template_path"] = str(source)
        out["template_fullpath"] = str(source.resolve())
        out["template_uid"] = source.owner() if source.exists() else ""
    return out


def literal_value(text: str) -> Any:
    """ansible-core's ansible_eval_concat: a rendered text that starts like a list or a dict
    (or is True/False) is read back as that Python literal when it is one (a folded
    ``>`` scalar's ``{{ [x] + y }}`` followed by its newline is a list, not text)."""
    if not (text.startswith(("{", "[")) or text in ("True", "False")):
        return text
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
