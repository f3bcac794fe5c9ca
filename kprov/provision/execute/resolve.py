"""The resolve pass: every task a host will run is templated for that host before the first
play changes anything, so an undefined variable in a late task fails the run up front,
naming the file and line that uses it (not after two dozen changes with etcd started).

For each host, in playbook order, each play it is in, each task and handler of the play
(as far as the tags select them; dynamic includes are loaded only when they run, so their
tasks are not seen): its ``when`` is evaluated, then its ``loop`` or its arguments are
templated, and a template task's source file is rendered, all in the task's own variable
scope for that host, without executing anything. What only the run itself can define is
left alone: a field that mentions a variable a ``register``, ``set_fact`` or loop variable
of the playbook names, or a fact (``ansible_*``) of a host whose facts are not
gathered (no play gathers them), is not judged (a playbook with an ``include_vars``, which may
define any name, is not judged at all); nor are the arguments of a task whose ``when``
could not be judged. An error counts only when its variable is one the field itself names
at the top level (``a`` of ``a.b``), or one that a variable it uses is defined with (an
inventory's ``apiserver_vip: "{{ lb_vip }}"``): anything subtler is left to the task.
The pass is pure operator CPU (the templates are the ones the plays compile anyway).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import meta

from kprov.provision.errors import ProvisionError, UndefinedVariableError
from kprov.provision.execute.context import PlayContext, RunContext
from kprov.provision.execute.host_runner import HostRunner
from kprov.provision.execute.play_runner import PlayRunner
from kprov.provision.playbook.model import Block, Item, Play, Task

__all__ = ["Unresolved", "runtime_names", "unresolved"]

_DEFINES_VARS = ("set_fact", "include_vars")


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


def runtime_names(plays: Iterable[Play]) -> set[str]:
    """Variables only the run can define: registered results, set_fact keys, loop variables;
    ``"*"`` in it when an include_vars or a templated set_fact can define any name."""
    names = {"item", "ansible_loop", "ansible_index_var"}
    for play in plays:
        for task in _tasks([*play.items, *play.handlers]):
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
    return names


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
        found: list[Unresolved] = []
        for task in [*runner.selected_tasks(play.items), *play.handlers]:
            problem = self.task(runner, task)
            if problem is not None:
                found.append(problem)
        return found

    def _flag(self, task: Task, err: UndefinedVariableError, names: set[str],
              where: str) -> Unresolved | None:
        # a name the field uses, or one a variable it uses is defined with ("'x' is undefined",
        # not an attribute or item of something) that the run does not define either
        indirect = (f"'{err.variable}' is undefined" in err.detail and self._judged({err.variable}))
        if err.variable not in names and not indirect:
            return None
        return Unresolved(self.host, task.title, task.origin, err.variable, where)

    def task(self, runner: HostRunner, task: Task) -> Unresolved | None:
        tasks = runner.tasks
        try:
            scope = tasks.scope(task, None)
        except ProvisionError:
            return None
        when_names = _names(self.env, task.when, expression=True)
        if task.when:
            if not self._judged(when_names):
                return None
            try:
                if not tasks.when_holds(task, scope):
                    return None
            except UndefinedVariableError as err:
                return self._flag(task, err, when_names, "when")
            except ProvisionError:
                return None
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
    later = runtime_names(plays)
    if "*" in later:  # an include_vars (or a templated set_fact key) may define any name
        return []
    check = _HostPass(run, host, later)
    found: list[Unresolved] = []
    for play in plays:
        found += check.play(play)
    return found
