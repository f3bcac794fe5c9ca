"""What a task's module runs with: its session, its ModuleContext, and the role file search.

For one task on one host: ``connector`` is the session it runs on (``delegate_to`` another
host's, localhost, or a session opened for an inventory host) with that host's probe cache;
``module_context`` builds the ModuleContext (check mode and diff from task, play or command
line; become; the task's variables; template rendering with the task's Jinja2 settings;
``find_file``, the role-relative search, remembered for the run).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kprov.provision.connect.base import Connector
from kprov.provision.connect.reach import inventory_scope, reach
from kprov.provision.errors import ProvisionError, UndefinedVariableError
from kprov.provision.execute.context import HostState, PlayContext, RunContext
from kprov.provision.execute.probes.probecache import ProbeCache
from kprov.provision.execute.runlog import LoggedConnector
from kprov.provision.execute.task.environment import task_environment
from kprov.provision.execute.variables import VarsView, host_scope
from kprov.provision.modules.base import ModuleContext
from kprov.provision.playbook.model import Task
from kprov.provision.template_filters import to_bool
from kprov.provision.template_includes import action_search_path
from kprov.provision.template_settings import DEFAULT_SETTINGS
from kprov.provision.templates import VarScope, template_vars

__all__ = ["HostUnreachable", "TaskSetup"]


class HostUnreachable(Exception):
    """The task's host has no session (or lost it): the task is unreachable."""


class TaskSetup:
    """The module side of running tasks on one host (see the module docstring)."""

    def __init__(self, run: RunContext, pctx: PlayContext, host: HostState) -> None:
        self.run, self.pctx, self.host = run, pctx, host

    def module_context(self, task: Task, scope: VarScope, connector: Connector,
                       environment: Mapping[str, str] | None = None) -> ModuleContext:
        opts, play = self.run.options, self.pctx.play
        check = task.check_mode if task.check_mode is not None else play.check_mode
        check = opts.check if check is None else to_bool(check)
        diff = opts.diff if task.diff is None else to_bool(task.diff)
        become, become_user = self.become(task, scope)
        last_found: dict[str, Path] = {}

        def find_file(name: str, kind: str) -> Path:
            path = self.find_file(task, name, kind)
            last_found[kind] = path
            return path

        def render_template(text: str, settings: Mapping[str, Any]) -> str:
            source = last_found.get("templates")
            where = str(source) if source is not None else f"inline template of task '{task.title}'"
            try:
                chosen = DEFAULT_SETTINGS.merged(settings)
            except ValueError as err:
                raise ProvisionError(str(err)) from None
            try:
                searchpath = action_search_path(scope, source) if source is not None else ()
                return scope.child(template_vars(source)).render(text, where, chosen, searchpath)
            except UndefinedVariableError as err:
                raise UndefinedVariableError(err.variable, err.template, task.title) from None

        def log(message: str) -> None:
            self.run.log.event(self.host.name, f"{task.title}: {message}")

        return ModuleContext(
            connector=connector,
            check_mode=check,
            diff=diff,
            become=become,
            become_user=become_user,
            task_vars=VarsView(scope),
            render_template=render_template,
            find_file=find_file,
            file_digest=self.run.file_digest,
            log=log,
            environment=environment or {},
            check_run=bool(opts.check),
        )

    def environment(self, task: Task, scope: VarScope) -> dict[str, str]:
        """The task's environment (execute.task_environment); warnings go to the run log."""
        def warn(message: str) -> None:
            self.run.log.event(self.host.name, f"{task.title}: {message}")

        return task_environment(task, scope, warn)

    def become(self, task: Task, scope: VarScope) -> tuple[bool, str | None]:
        play = self.pctx.play
        if task.become is not None:
            become = to_bool(scope.template(task.become, "become"))
        elif play.become is not None:
            become = to_bool(play.become)
        else:
            become = to_bool(scope.get("ansible_become", False))
        user = task.become_user or play.become_user or scope.get("ansible_become_user")
        method = task.become_method or play.become_method
        if become and method is not None and str(scope.template(method, "become_method")) != "sudo":
            named = scope.template(method, "become_method")
            raise ProvisionError(f"become_method {named!r} is not supported: kprov becomes another user with "
                                 "sudo only")
        return become, (str(scope.template(user, "become_user")) if user else None)

    def connector(self, task: Task, scope: VarScope) -> tuple[Connector, ProbeCache | None]:
        """The session the task runs on, and the probe cache of that host (None: not one of
        the run's hosts)."""
        if task.delegate_to:
            target = str(scope.template(task.delegate_to, "delegate_to"))
            if target != self.host.name:
                other = self.run.hosts.get(target)
                if other is not None and other.connector is not None:
                    return other.connector, other.probes
                if target in ("localhost", "127.0.0.1"):
                    return self.run.localhost(), None
                if target in self.run.inventory.hosts:
                    return LoggedConnector(self._reach(target, other), self.run.log), (
                        other.probes if other else None
                    )
                raise ProvisionError(
                    f"{task.origin}: delegate_to '{target}' is not localhost nor an inventory host"
                )
        if self.host.connector is None:
            raise HostUnreachable(self.host.connect_error or f"{self.host.name}: no session")
        return self.host.connector, self.host.probes

    def _reach(self, target: str, other: HostState | None) -> Connector:
        """A session to a delegated inventory host with none open: its connection variables
        templated from its own point of view (``hostvars[target]``), as for any host."""
        if other is not None:
            variables = {**other.connection_keywords, **other.inventory_vars}
            return reach(target, variables, host_scope(self.run, None, other).template)
        scope = inventory_scope(self.run.inventory, target, self.run.engine)
        return reach(target, self.run.inventory.host_vars(target), scope.template)

    def find_file(self, task: Task, name: str, kind: str) -> Path:
        """Role-relative search like Ansible: role/<kind>/, role/, playbook/<kind>/, playbook/.

        A file found is remembered for the run (``RunContext.found_files``, by name, kind and
        the task's roles and directory): every host and loop item asks for the same files,
        hundreds of lookups of several stat calls each in the cluster's no-op apply.
        A miss is searched again each time (and fails the task)."""
        key = (name, kind, tuple(role.path for role in task.scope.role_chain), task.scope.base_dir)
        found = self.run.found_files.get(key)
        if found is not None:
            return found
        path = Path(name)
        if path.is_absolute():
            if path.exists():
                self.run.found_files[key] = path
                return path
            raise FileNotFoundError(name)
        bases: list[Path] = []
        for role in reversed(task.scope.role_chain):
            bases += [role.path / kind, role.path]
        task_dir = task.scope.base_dir
        bases += [task_dir / kind, task_dir.parent / kind, task_dir]
        bases += [self.run.playbook_dir / kind, self.run.playbook_dir]
        for base in bases:
            candidate = base / name
            if candidate.exists():
                self.run.found_files[key] = candidate
                return candidate
        raise FileNotFoundError(f"'{name}' not found in {', '.join(str(b) for b in dict.fromkeys(bases))}")
