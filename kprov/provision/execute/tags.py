"""Tag selection, as ansible-core selects tasks by ``--tags`` / ``--skip-tags``.

``tags_selected`` is the rule (``always``, ``never``, ``tagged``, ``untagged``, ``all``);
``expand_tags`` renders a task's templated tags (``tags: "{{ the_tags }}"``, a list or a
comma separated string), which ansible-core evaluates with the task's variables. The run
(host_runner) and ``--list-tasks`` (list_tasks) select through both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kprov.provision.playbook.tasks import tag_list

__all__ = ["expand_tags", "tags_selected"]


def tags_selected(task_tags: list[str], only: frozenset[str], skip: frozenset[str]) -> bool:
    """Taggable.evaluate_tags: no ``--tags`` is ``all``; an untagged task is tagged
    ``untagged``; ``always`` runs whatever ``--tags`` say, yet a ``--skip-tags`` it matches
    skips it (``--skip-tags all`` spares it unless ``always`` is skipped too)."""
    tags = set(task_tags) or {"untagged"}
    only = only or frozenset({"all"})
    tagged = tags != {"untagged"} and "never" not in tags
    run = ("always" in tags or ("all" in only and "never" not in tags) or not tags.isdisjoint(only)
           or ("tagged" in only and tagged))
    if run and skip:
        if "all" in skip:
            return "always" in tags and "always" not in skip
        return tags.isdisjoint(skip) and not ("tagged" in skip and tags != {"untagged"})
    return run


def expand_tags(tags: list[str], template: Callable[[str], Any]) -> list[str]:
    """Tags with templated entries rendered (a list or a comma separated string each)."""
    if not any("{{" in t for t in tags):
        return tags
    out: set[str] = set()
    for tag in tags:
        value = template(tag) if "{{" in tag else tag
        out.update(tag_list(value) if not isinstance(value, list) else (str(v) for v in value))
    return sorted(out)
