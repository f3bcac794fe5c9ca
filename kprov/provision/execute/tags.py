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
    tags = set(task_tags)
    if "never" in tags and not (tags - {"never"}) & only:
        return False
    if skip and (tags & skip or ("tagged" in skip and tags) or ("untagged" in skip and not tags)):
        return "always" in tags and "always" not in skip
    if not only or "all" in only or "always" in tags:
        return True
    return bool(tags & only) or ("tagged" in only and bool(tags)) or ("untagged" in only and not tags)


def expand_tags(tags: list[str], template: Callable[[str], Any]) -> list[str]:
    """Tags with templated entries rendered (a list or a comma separated string each)."""
    if not any("{{" in t for t in tags):
        return tags
    out: set[str] = set()
    for tag in tags:
        value = template(tag) if "{{" in tag else tag
        out.update(tag_list(value) if not isinstance(value, list) else (str(v) for v in value))
    return sorted(out)
