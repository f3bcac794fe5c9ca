"""Playbook data model: plays, blocks, tasks and roles as plain data (no behaviour).

Keywords set on a block, a role or an import are *inherited* at load time: each Task holds
its effective ``when`` list (ANDed), ``tags`` (union), ``become``... and ``scope_vars`` (block
and include vars, outermost first). Dynamic includes (``include_tasks``/``include_role``)
stay as tasks; the executor loads them per host at run time with the task's ``scope``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["EXTENDED_KEYWORDS", "Block", "Item", "Play", "Playbook", "Role", "Scope", "Task"]

# keywords whose entries add up from the play inwards (Ansible's extend/prepend attributes)
EXTENDED_KEYWORDS = ("environment", "module_defaults")


def _entries(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list | tuple) else (value,)


@dataclass
class Role:
    name: str
    path: Path
    defaults: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    dependencies: list[dict[str, Any]] = field(default_factory=list)  # [{role: name, ...params}]
    allow_duplicates: bool = False


@dataclass(frozen=True)
class Scope:
    """What a task inherits from the blocks, roles and imports around it."""

    base_dir: Path  # where relative include paths resolve
    role: Role | None = None
    role_chain: tuple[Role, ...] = ()  # outer roles first (a dependency's parent, ...)
    role_params: tuple[tuple[str, Any], ...] = ()
    # the ``vars:`` of the include_tasks around, outermost first: ansible-core's include
    # params, above set_fact and role params (only extra vars win over them)
    include_params: tuple[dict[str, Any], ...] = ()
    when: tuple[Any, ...] = ()
    tags: tuple[str, ...] = ()
    vars: tuple[dict[str, Any], ...] = ()
    keywords: tuple[tuple[str, Any], ...] = ()  # become, become_user, ignore_errors, ...
    # ``environment:`` entries of the play, roles, blocks and includes around, outermost
    # first: unlike the keywords they add up (a later entry's names win), as in Ansible
    environment: tuple[Any, ...] = ()
    module_defaults: tuple[Any, ...] = ()  # the same, for ``module_defaults:``
    # the play's and the import's vars, for names templated at load (import_role's name,
    # import_tasks' file), lowest first; never a variable layer of the run
    static_vars: tuple[dict[str, Any], ...] = ()
    # the role invocation a task belongs to (ansible-core's Role hash: the role and its files,
    # params, when, tags, whether an include or import loaded it; "" outside roles) and whether
    # it may run again on a host where an equal one completed (an include's or import's
    # ``allow_duplicates``, default true; a play role's meta/main.yml)
    role_key: str = ""
    allow_duplicates: bool = True

    def keyword(self, name: str, default: Any = None) -> Any:
        return dict(self.keywords).get(name, default)

    def extended(self, data: Mapping[str, Any]) -> Scope:
        """This scope with ``data``'s environment and module_defaults entries after its own."""
        if all(data.get(k) is None for k in EXTENDED_KEYWORDS):
            return self
        return dataclasses.replace(
            self, environment=(*self.environment, *_entries(data.get("environment"))),
            module_defaults=(*self.module_defaults, *_entries(data.get("module_defaults"))))


@dataclass
class Task:
    name: str
    action: str
    args: dict[str, Any]
    origin: str
    scope: Scope
    when: list[Any] = field(default_factory=list)  # inherited + own
    tags: list[str] = field(default_factory=list)
    loop: Any = None
    loop_control: dict[str, Any] = field(default_factory=dict)
    register: str | None = None
    notify: list[str] = field(default_factory=list)
    listen: list[str] = field(default_factory=list)
    become: bool | None = None
    become_user: str | None = None
    become_method: Any = None  # only sudo is supported: another is refused when the task runs
    changed_when: list[Any] | None = None
    failed_when: list[Any] | None = None
    until: list[Any] | None = None
    retries: Any = None
    delay: Any = None
    vars: dict[str, Any] = field(default_factory=dict)
    run_once: bool | str = False  # a template: the host's run renders it (truthy: a sync point)
    delegate_to: str | None = None
    delegate_facts: Any = None  # facts the task sets go to the delegate_to host
    ignore_unreachable: Any = None  # an unreachable host is recorded, and stays in the play
    ignore_errors: Any = False  # a bool, or a template a host's run renders (Ansible's isa bool)
    check_mode: bool | None = None
    diff: bool | None = None
    no_log: Any = False  # likewise (execute.task.keywords renders both per host)
    throttle: int | None = None  # at most this many hosts run the task at once
    environment: tuple[Any, ...] = ()  # the scope's entries + the task's own
    module_defaults: tuple[Any, ...] = ()  # likewise
    async_seconds: Any = None  # ``async``: run as a host-side job with this time limit
    poll: Any = None  # ``poll``: seconds between checks of that job (0: do not wait)
    uid: int = 0  # identity for sync points, set by the loader (unique per loader)
    implicit: bool = False  # the loader's own (the flushes between sections): never printed

    def include_scope(self) -> Scope:
        """The scope an include of this task gives what it includes: the task's own
        environment and module_defaults entries added."""
        return dataclasses.replace(self.scope, environment=self.environment,
                                   module_defaults=self.module_defaults)

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        role = f"{self.scope.role.name} : " if self.scope.role else ""
        return f"{role}{self.action}"

    @property
    def title(self) -> str:
        role = self.scope.role.name if self.scope.role else ""
        return f"{role} : {self.name}" if role and self.name else self.display_name


@dataclass
class Block:
    block: list[Item]
    rescue: list[Item] = field(default_factory=list)
    always: list[Item] = field(default_factory=list)
    name: str = ""
    origin: str = ""


Item = Task | Block


@dataclass
class Play:
    name: str
    hosts: str
    origin: str
    base_dir: Path
    items: list[Item] = field(default_factory=list)  # pre_tasks, roles, tasks, post_tasks (+ flushes)
    handlers: list[Task] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)  # every role of the play, dependencies first
    vars: dict[str, Any] = field(default_factory=dict)
    become: bool | None = None
    become_user: str | None = None
    become_method: Any = None
    # how to reach the play's hosts, beneath their ansible_user/ansible_connection variables
    remote_user: Any = None
    connection: Any = None
    serial: Any = None
    any_errors_fatal: bool = False
    force_handlers: Any = None  # None: as --force-handlers says
    max_fail_percentage: float | None = None
    gather_facts: bool = True
    included_when: tuple[Any, ...] = ()  # an import_playbook's when: also its gathering's (PlayIterator)
    check_mode: bool | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class Playbook:
    path: Path
    plays: list[Play] = field(default_factory=list)
