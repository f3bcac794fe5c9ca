"""``--list-tasks`` and ``--list-tags``: a playbook's tasks (or tags) as ansible-playbook lists them.

ansible-core's tags target checks tag selection through ``ansible-playbook --list-tasks``
output (``<task name>\tTAGS: [a, b]`` per task a run with the same --tags/--skip-tags would
run). The listing walks the loaded plays without connecting to any host: blocks flattened,
kprov's implicit ``flush_handlers`` and ``role_complete`` left out (as ansible-core leaves its
implicit meta tasks out), each task's tags templated against the play's and the extra variables
(``tags: "{{ the_tags }}"``) and selected by the same rule the run uses
(``execute.tags``). The line layout is ansible-core's cli/playbook.py.
"""

from __future__ import annotations

from typing import Any

from kprov.provision.errors import ProvisionError
from kprov.provision.execute.tags import expand_tags, tags_selected
from kprov.provision.playbook.model import Block, Item, Play, Playbook, Task
from kprov.provision.templates import TemplateEngine

__all__ = ["list_lines"]




def _tasks(items: list[Item]) -> list[Task]:
    found: list[Task] = []
    for item in items:
        if isinstance(item, Block):
            found += _tasks([*item.block, *item.rescue, *item.always])
        else:
            found.append(item)
    return found


def _play_tasks(play: Play, extra_vars: dict[str, Any], only: frozenset[str],
                skip: frozenset[str]) -> list[tuple[str, list[str]]]:
    scope = TemplateEngine().scope([(extra_vars, True), (play.vars, True)])

    def template(text: str) -> Any:
        try:
            return scope.template(text, "tags")
        except ProvisionError:
            return text

    rows = []
    for task in _tasks(play.items):
        tags = expand_tags(task.tags, template)
        if task.implicit or (task.action == "meta" and task.args.get("_raw_params") == "flush_handlers"
                             and not task.name):
            continue  # the implicit flushes between sections, the roles' role_complete
        if tags_selected(tags, only, skip):
            rows.append((task.title, sorted({*play.tags, *tags})))
    return rows


def list_lines(playbook: Playbook, shown_path: str, extra_vars: dict[str, Any], only: frozenset[str],
               skip: frozenset[str], *, tags_only: bool = False) -> list[str]:
    """The listing's lines: ``playbook: <path>``, then per play its header and its tasks
    (``--list-tasks``) or the tags its selected tasks carry (``--list-tags``)."""
    lines = ["", f"playbook: {shown_path}"]
    for index, play in enumerate(playbook.plays):
        lines += ["", f"  play #{index + 1} ({play.hosts}): {play.name}\tTAGS: [{','.join(play.tags)}]"]
        rows = _play_tasks(play, extra_vars, only, skip)
        if tags_only:
            every = sorted({t for _, tags in rows for t in tags})
            lines.append(f"      TASK TAGS: [{', '.join(every)}]")
            continue
        lines.append("    tasks:")
        lines += [f"      {name}\tTAGS: [{', '.join(tags)}]" for name, tags in rows]
    lines.append("")
    return lines
