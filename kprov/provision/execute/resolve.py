"""The resolve pass: every task a host will run is templated for that host before the first
play changes anything, so an undefined variable in a late task fails the run up front,
naming the file and line that uses it (not after two dozen changes with etcd started).

For each host, in playbook order, each play it is in, each task and handler of the play
(as far as the tags select them): its ``when`` is evaluated, then its ``loop`` or its
arguments are templated, and a template task's source file is rendered, all in the task's
own variable scope for that host, without executing anything. An ``include_tasks`` or
``include_role`` is followed when it can be known before the run: its ``when`` holds, and its
file or role name (and its loop's items, each then the loop variable of the included tasks)
template from what the inventory and the playbook define; one that depends on what the run
defines (a registered result, a fact not yet gathered) is left to the run, as are its tasks.
What only the run itself can define is left alone: a field that mentions a variable a
``register``, ``set_fact`` or loop variable names anywhere in the playbook or in a task file
an include may load (a templated include name: every task file beside it), or a fact
(``ansible_*``) of a host whose facts are not gathered (no play gathers them), is not judged
(a playbook with an ``include_vars``, or an ``include_role`` of a templated role name, which
may define any name, is not judged at all); nor are the arguments of a task whose ``when``
could not be judged. An error counts only when its variable is one the field itself names
at the top level (``a`` of ``a.b``), or one that a variable it uses is defined with (an
inventory's ``apiserver_vip: "{{ lb_vip }}"``): anything subtler is left to the task.
The pass is pure operator CPU (the templates are the ones the plays compile anyway).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta

from kprov.provision.errors import ProvisionError, UndefinedVariableError
from kprov.provision.execute.context import PlayContext, RunContext
from kprov.provision.execute.host_runner import HostRunner, tags_selected
from kprov.provision.execute.play_runner import PlayRunner
from kprov.provision.execute.task.loops import loop_items
from kprov.provision.playbook.loader import PlaybookLoader
from kprov.provision.playbook.model import Block, Item, Play, Task
from kprov.provision.yamlfile import load_yaml_file

__all__ = ["Unresolved", "runtime_names", "unresolved"]

_DEFINES_VARS = ("set_fact", "include_vars")
_INCLUDES = ("include_tasks", "include_role")
_NOT_TASKS = ("meta", "import_tasks", "import_role")  # imports are expanded when loaded
_MAX_INCLUDE_DEPTH = 10
_MAX_INCLUDE_ITEMS = 50  # a longer loop's includes are left to the run


@dataclass(frozen=True)
class Unresolved:
    host: str
    task: str
    origin: str  # the file and line of the task
    variable: str
    where: str  # "when", "loop", "argument 'dest'", "template roles/x/templates/y.j2"

    @property
    def message(self) -> str:
        return (f"{self.origin}: task '{self.task}': undefined variable '{self.variable}' "
                f"in its {self.where}; define it (role defaults, group_vars, host_vars, -e) "
                "or guard it with `| default(...)`")


def _tasks(items: Iterable[Item]) -> Iterator[Task]:
    for item in items:
        if isinstance(item, Block):
            yield from _tasks([*item.block, *item.rescue, *item.always])
        else:
            yield item


def runtime_names(plays: Iterable[Play], loader: PlaybookLoader | None = None) -> set[str]:
    """Variables only the run can define: registered results, set_fact keys, loop variables,
    in the plays and in what their includes may load (with ``loader``); ``"*"`` in it when an
    include_vars, a templated set_fact key or a templated role name can define any name."""
    names = {"item", "ansible_loop", "ansible_index_var"}
    seen: set[str] = set()
    for play in plays:
        _defined_by(_tasks([*play.items, *play.handlers]), names, loader, seen)
    return names


def _defined_by(tasks: Iterable[Task], names: set[str], loader: PlaybookLoader | None,
                seen: set[str]) -> None:
    for task in tasks:
        if task.register:
            names.add(task.register)
        for key in ("loop_var", "index_var"):
            if task.loop_control.get(key):
                names.add(str(task.loop_control[key]))
        short = task.action.rsplit(".", 1)[-1]
        if short == "include_vars":
            names.add("*")
        elif short == "set_fact":
            literal = [k for k in task.args if k not in ("cacheable",)]
            names.update(literal)
            if any("{{" in k for k in literal):
                names.add("*")
        elif short in _INCLUDES and loader is not None:
            _defined_by_include(task, names, loader, seen)


def _defined_by_include(task: Task, names: set[str], loader: PlaybookLoader, seen: set[str]) -> None:
    """What an include may define: the tasks it loads when its name is literal; when it is
    templated, every task file it could name (beside the including file, in its role's tasks
    and the playbook's directory), read as plain YAML; any name for a templated role."""
    name = task.args.get("file") or task.args.get("_raw_params") or task.args.get("name") or ""
    key = f"{task.action}:{name}:{task.scope.base_dir}"
    if key in seen:
        return
    seen.add(key)
    if "{{" not in str(name):
        try:
            loaded = (loader.include_tasks(task, dict(task.args)) if task.action == "include_tasks"
                      else loader.role_items(dict(task.args), task.include_scope(), None, None, task.origin))
        except ProvisionError:
            return
        _defined_by(_tasks(loaded), names, loader, seen)
        return
    if task.action == "include_role":
        names.add("*")
        return
    folders = {task.scope.base_dir, loader.playbook_dir}
    if task.scope.role is not None:
        folders.add(task.scope.role.path / "tasks")
    for folder in folders:
        for path in sorted([*Path(folder).glob("*.yml"), *Path(folder).glob("*.yaml")]):
            with contextlib.suppress(ProvisionError, OSError):
                names.update(_raw_defined(load_yaml_file(path)))


def _raw_defined(data: Any) -> set[str]:
    """The names a task file's plain YAML can define (register, set_fact keys, loop_control
    variables; ``"*"`` for include_vars or a templated key)."""
    found: set[str] = set()
    if isinstance(data, list):
        for item in data:
            found |= _raw_defined(item)
    elif isinstance(data, dict):
        for key, value in data.items():
            short = str(key).rsplit(".", 1)[-1]
            if key == "register" and isinstance(value, str):
                found.add(value)
            elif key == "loop_control" and isinstance(value, dict):
                found |= {str(value[k]) for k in ("loop_var", "index_var") if value.get(k)}
            elif short == "set_fact" and isinstance(value, dict):
                found |= {str(k) for k in value if k != "cacheable"}
                found |= {"*"} if any("{{" in str(k) for k in value) else set()
            elif short == "include_vars":
                found.add("*")
            else:
                found |= _raw_defined(value)
    return found


def _names(env: jinja2.Environment, value: Any, expression: bool = False) -> set[str]:
    """The top-level variables a field's templates (or bare expressions) use."""
    found: set[str] = set()
    if isinstance(value, dict):
        for item in value.values():
            found |= _names(env, item, expression)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found |= _names(env, item, expression)
    elif isinstance(value, str) and (expression or "{{" in value or "{%" in value):
        source = f"{{{{ {value} }}}}" if expression and "{{" not in value else value
        with contextlib.suppress(jinja2.TemplateSyntaxError):
            found |= meta.find_undeclared_variables(env.parse(source))
    return found


def _judged(names: set[str], later: set[str], facts: bool) -> bool:
    """Whether a field using ``names`` can be judged before the run (see the module doc);
    ``facts``: the host's facts are gathered already (its ``ansible_*`` are known)."""
    return not (names & later or (not facts and any(n.startswith("ansible_") for n in names))
                or "hostvars" in names)


class _HostPass:
    def __init__(self, run: RunContext, host: str, later: set[str]) -> None:
        self.run, self.host, self.later = run, host, later
        self.env = run.engine.env
        self.facts = bool(run.hosts[host].facts)

    def _judged(self, names: set[str]) -> bool:
        return _judged(names, self.later, self.facts)

    def play(self, play: Play) -> list[Unresolved]:
        hosts = PlayRunner(self.run, play).hosts()
        if self.host not in hosts:
            return []
        pctx = PlayContext(play=play, hosts=hosts, batch=hosts, sync=None)
        runner = HostRunner(self.run, pctx, self.run.hosts[self.host])
        found = self.items(runner, play.items, None, 0)
        return found + [p for p in (self.task(runner, h) for h in play.handlers) if p is not None]

    def items(self, runner: HostRunner, items: Iterable[Item], extra: dict[str, Any] | None,
              depth: int) -> list[Unresolved]:
        """The tasks of ``items`` this host walks (blocks and their ``always``, as far as the
        tags select them), includes followed where they can be known before the run."""
        opts = self.run.options
        found: list[Unresolved] = []
        for item in items:
            if isinstance(item, Block):
                found += self.items(runner, [*item.block, *item.always], extra, depth)
            elif item.action in _NOT_TASKS or not tags_selected(item.tags, opts.tags, opts.skip_tags):
                continue
            elif item.action in _INCLUDES:
                found += self.include(runner, item, extra, depth)
            elif (problem := self.task(runner, item, extra)) is not None:
                found.append(problem)
        return found

    def include(self, runner: HostRunner, task: Task, extra: dict[str, Any] | None,
                depth: int) -> list[Unresolved]:
        """An include's own fields judged as a task's, then what it loads for each loop item
        (see the module doc); an include the run alone can resolve is left to it."""
        loader = self.run.loader
        if loader is None or depth >= _MAX_INCLUDE_DEPTH:
            return []
        tasks = runner.tasks
        try:
            scope = tasks.scope(task, extra)
        except ProvisionError:
            return []
        verdict = self.when(task, tasks, scope)
        if verdict is not True:
            return [verdict] if isinstance(verdict, Unresolved) else []
        loop_var = str(task.loop_control.get("loop_var", "item"))
        items: list[Any] = [None]
        if task.loop is not None:
            loop_names = _names(self.env, task.loop)
            if not self._judged(loop_names):
                return []
            try:
                items = loop_items(task, scope)
            except UndefinedVariableError as err:
                flagged = self._flag(task, err, loop_names, "loop")
                return [flagged] if flagged is not None else []
            except ProvisionError:
                return []
            if len(items) > _MAX_INCLUDE_ITEMS:
                return []
        found: list[Unresolved] = []
        for item in items:
            item_extra = dict(extra or {}) | ({loop_var: item} if task.loop is not None else {})
            item_scope = tasks.scope(task, item_extra) if item_extra else scope
            args: dict[str, Any] = {}
            for key, value in task.args.items():
                names = _names(self.env, value) - ({loop_var} if task.loop is not None else set())
                if not self._judged(names):
                    return found  # a name the run decides: what it loads is the run's to judge
                try:
                    args[key] = item_scope.template(value, f"task field '{key}' ({task.origin})")
                except UndefinedVariableError as err:
                    flagged = self._flag(task, err, names, f"argument '{key}'")
                    return found + ([flagged] if flagged is not None else [])
                except ProvisionError:
                    return found
            try:
                loaded = (loader.include_tasks(task, args) if task.action == "include_tasks"
                          else loader.role_items(args, task.include_scope(), None, None, task.origin))
            except ProvisionError:
                return found  # a missing file is the run's error, not an undefined variable
            found += self.items(runner, loaded, item_extra or extra, depth + 1)
        return found

    def when(self, task: Task, tasks: Any, scope: Any) -> bool | Unresolved | None:
        """Whether ``task``'s ``when`` holds for the host: True, False, an undefined variable
        it names, or None when it cannot be judged before the run."""
        if not task.when:
            return True
        when_names = _names(self.env, task.when, expression=True)
        if not self._judged(when_names):
            return None
        try:
            return bool(tasks.when_holds(task, scope))
        except UndefinedVariableError as err:
            return self._flag(task, err, when_names, "when")
        except ProvisionError:
            return None

    def _flag(self, task: Task, err: UndefinedVariableError, names: set[str],
              where: str) -> Unresolved | None:
        # a name the field uses, or one a variable it uses is defined with ("'x' is undefined",
        # not an attribute or item of something) that the run does not define either
        indirect = (f"'{err.variable}' is undefined" in err.detail and self._judged({err.variable}))
        if err.variable not in names and not indirect:
            return None
        return Unresolved(self.host, task.title, task.origin, err.variable, where)

    def task(self, runner: HostRunner, task: Task, extra: dict[str, Any] | None = None) -> Unresolved | None:
        tasks = runner.tasks
        try:
            scope = tasks.scope(task, extra)
        except ProvisionError:
            return None
        verdict = self.when(task, tasks, scope)
        if verdict is not True:
            return verdict if isinstance(verdict, Unresolved) else None
        if task.loop is not None:
            loop_names = _names(self.env, task.loop)
            if self._judged(loop_names):
                try:
                    scope.template(task.loop, f"task field 'loop' ({task.origin})")
                except UndefinedVariableError as err:
                    return self._flag(task, err, loop_names, "loop")
                except ProvisionError:
                    return None
            return None  # its arguments use the loop variable
        return self.arguments(runner, task, scope)

    def arguments(self, runner: HostRunner, task: Task, scope: Any) -> Unresolved | None:
        for key, value in task.args.items():
            names = _names(self.env, value)
            if not names or not self._judged(names):
                continue
            try:
                scope.template(value, f"task field '{key}' ({task.origin})")
            except UndefinedVariableError as err:
                flagged = self._flag(task, err, names, f"argument '{key}'")
                if flagged is not None:
                    return flagged
            except ProvisionError:
                continue
        return self.template_file(runner, task, scope)

    def template_file(self, runner: HostRunner, task: Task, scope: Any) -> Unresolved | None:
        src = task.args.get("src")
        if task.action.rsplit(".", 1)[-1] != "template" or not isinstance(src, str):
            return None
        try:  # a templated name ("{{ kprov_templates_dir }}/x.j2"): judged with the arguments
            src = str(scope.template(src, f"task field 'src' ({task.origin})"))
            path = runner.tasks.find_file(task, src, "templates")
            names = _names(self.env, path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ProvisionError):
            return None
        if not self._judged(names):
            return None
        try:
            scope.render_file(path)
        except UndefinedVariableError as err:
            return self._flag(task, err, names, f"template {path.resolve()}")
        except ProvisionError:
            return None
        return None


def unresolved(run: RunContext, plays: list[Play], host: str) -> list[Unresolved]:
    """What ``host``'s tasks use that nothing defines (see the module doc); first per task."""
    later = runtime_names(plays, run.loader)
    if "*" in later:  # an include_vars (or a templated set_fact key) may define any name
        return []
    check = _HostPass(run, host, later)
    found: list[Unresolved] = []
    for play in plays:
        found += check.play(play)
    return found
