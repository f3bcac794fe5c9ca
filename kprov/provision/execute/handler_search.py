"""Which handlers a notification runs, and the order a flush runs them in, as ansible-core's.

ansible-core keeps one handler list per play: the play's own handlers, then each role's in
the order the roles loaded (an ``include_role``'s when it is included). kprov's loader keeps
the roles' first; :func:`definition_order` gives ansible-core's. A notification is looked up
in that list one file at a time from the last file (the strategy's
``search_handlers_by_notification``): the first handler whose name is the notification -- its
own name, ``role : name`` or ``namespace.collection.role : name``, a templated name rendered
first and skipped when it does not render -- and then every handler that listens to it (a
role's listeners also answer ``role : topic``), one per handler name. So a notification runs
one of two same-named handlers, but all of its listeners.

A flush runs the notified handlers in :func:`definition_order`, not in the order they were
notified (the play iterator's handler pass): a handler that notifies a later one runs it in
the same pass, an earlier one at the next flush.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kprov.provision.errors import ProvisionError
from kprov.provision.playbook.model import Item, Role, Task

if TYPE_CHECKING:
    from kprov.provision.execute.context import PlayContext
    from kprov.provision.playbook.loader import PlaybookLoader

__all__ = ["MISSING_HANDLER", "adopt_role_handlers", "definition_order", "handler_name", "notify_names",
           "role_names", "search"]

# renders a text in a task's scope for this host: (task, text, where) -> value
Render = Callable[[Task, str, str], Any]

MISSING_HANDLER = ("The requested handler '{}' was not found in either the main handlers list nor in the "
                   "listening handlers list")


def role_names(role: Role) -> tuple[str, ...]:
    """A role's names as ansible-core's ``get_name``: its own, and a collection role's FQCN."""
    parts = role.path.parts
    if len(parts) >= 5 and parts[-5] == "ansible_collections" and parts[-2] == "roles":
        return role.name, f"{parts[-4]}.{parts[-3]}.{role.name}"
    return (role.name,)


def definition_order(handlers: list[Task]) -> list[Task]:
    """The play's own handlers first, then the roles' in the order they loaded."""
    return [h for h in handlers if h.scope.role is None] + [h for h in handlers if h.scope.role is not None]


def _files(ordered: list[Task]) -> list[list[Task]]:
    """The list cut where the role or the file changes (ansible-core: one block per file)."""
    files: list[list[Task]] = []
    last: tuple[int, str] | None = None
    for handler in ordered:
        key = (id(handler.scope.role), handler.origin.rpartition(":")[0])
        if key != last:
            files.append([])
            last = key
        files[-1].append(handler)
    return files


def _prefixed(handler: Task, words: list[str]) -> set[str]:
    role = handler.scope.role
    return set(words) | ({f"{r} : {w}" for r in role_names(role) for w in words} if role else set())


def search(notification: str, handlers: list[Task], name_of: Callable[[Task], str | None]) -> list[Task]:
    """The handlers ``notification`` runs. ``name_of``: a handler's name as rendered for this
    host (None: it does not render, and the handler answers to its listen topics only)."""
    ordered = [h for file in reversed(_files(definition_order(handlers))) for h in file]
    found: list[Task] = []
    for handler in ordered:
        name = name_of(handler) if handler.name else None
        if name and notification in _prefixed(handler, [name]):
            found.append(handler)
            break
    seen: set[str] = set()
    for handler in ordered:
        if handler.listen and notification in _prefixed(handler, handler.listen):
            if handler.name and handler.name in seen:
                continue
            seen.add(handler.name)
            if all(h.uid != handler.uid for h in found):
                found.append(handler)
    return found


def notify_names(task: Task, render: Render) -> list[str]:
    """The task's ``notify`` names, templated as ansible-core's post_validate templates the
    field (``notify: "Restart {{ service }}"``, linux-system-roles.timesync; a list)."""
    names: list[str] = []
    for name in task.notify:
        if "{{" in name or "{%" in name:
            # an error leaves it as written: it then names no handler
            with contextlib.suppress(ProvisionError):
                rendered = render(task, name, f"task field 'notify' ({task.origin})")
                names += [str(n) for n in rendered] if isinstance(rendered, list) else [str(rendered)]
                continue
        names.append(name)
    return names


def handler_name(handler: Task, render: Render, warn: Callable[[str], None]) -> str | None:
    """A handler's name as its notifications name it: templated (None: it does not render,
    with ansible-core's warning when it has no listen topics either)."""
    if "{{" not in handler.name and "{%" not in handler.name:
        return handler.name
    try:
        return str(render(handler, handler.name, f"handler name ({handler.origin})"))
    except ProvisionError as err:
        if not handler.listen:
            warn(f"Handler '{handler.name}' is unusable because it has no listen topics and the "
                 "name could not be templated (host-specific variables are not supported in handler"
                 f" names). The error: {err}")
        return None


def adopt_role_handlers(pctx: PlayContext, loader: PlaybookLoader, host: str, item: Item,
                        args: dict[str, Any]) -> None:
    """An ``include_role``'s handlers join the host's list when its first task comes (its
    ``handlers_from`` names the included role's file; a dependency's are its main)."""
    if not isinstance(item, Task) or item.scope.role is None:
        return
    role = item.scope.role
    own = role.name == str(args.get("name") or args.get("role") or "")
    handlers_from = str(args.get("handlers_from") or "main") if own else "main"
    handlers = pctx.handlers.setdefault(host, list(pctx.play.handlers))
    if any(h.scope.role is role for h in handlers):
        return
    handlers += loader.role_handlers(role, item.scope, handlers_from)
