"""Run one task on one host: when, loop, args, module or engine action, retries, conditions.

Order, as in Ansible: ``when`` (per loop item when there is a loop) -> template the args ->
run (``until``/``retries``/``delay``; each attempt's ``changed_when`` / ``failed_when``
before its ``until``, execute.task.conditions; the result is visible under the ``register``
name, else as ``result``) -> register -> notify. Check mode and diff come from the task,
else the play, else the command line. Errors of templating, bad arguments and module
exceptions make the task *failed* with a message naming the task; a lost session makes the
host *unreachable*.

Modules read the host through its probe cache (execute.probecache): ``predict`` gives the
probes a task's module declares (for the look-ahead; execute.probe_plan), ``prefetch`` reads
them in one round trip, and ``settle`` drops the cache after a task that may have changed the
host. The loop, the module's session and context, the reported result, a delegated run's
variables and an include's own run live beside this module. Tasks with ``until`` (each
attempt must see the host anew) and delegated tasks read no cache, except a query's first
attempt (``is_query``: a health poll declared changeless): it may be read ahead, and when
that result does not meet ``until`` the next attempt asks the host at once."""

from __future__ import annotations

import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

from kprov.provision.connect.base import ConnectionFailure, UnreachableError
from kprov.provision.errors import ProvisionError, TemplateError, UndefinedVariableError
from kprov.provision.execute.context import HostState, PlayContext, RunContext
from kprov.provision.execute.engine_actions.add_host import add_host
from kprov.provision.execute.engine_actions.async_jobs import (
    ASYNC_STATUS_NAMES,
    DEFAULT_ASYNC_DIR,
    AsyncStatus,
    AsyncTask,
)
from kprov.provision.execute.engine_actions.group_by import group_by
from kprov.provision.execute.engine_actions.include_vars import include_vars
from kprov.provision.execute.engine_actions.variables import ENGINE_RUNNERS, RAW_ARG_KEYS
from kprov.provision.execute.probes.probe_plan import (
    ModuleCall,
    declared_keys,
    is_query,
    predictable_module,
    read_ahead,
    settle,
)
from kprov.provision.execute.results import Status, TaskResult
from kprov.provision.execute.sync import run_once_here
from kprov.provision.execute.task.conditions import apply_conditions, attempt_budget
from kprov.provision.execute.task.delegation import delegated_scope
from kprov.provision.execute.task.keywords import keyword_failure, render_flags
from kprov.provision.execute.task.loops import item_layers, labelled, loop_items, loop_outcome
from kprov.provision.execute.task.module_defaults import defaults_for
from kprov.provision.execute.task.protocol_fallback import protocol_module
from kprov.provision.execute.task.report import SKIPPED_BY_WHEN, inject_facts, task_result
from kprov.provision.execute.task.setup import HostUnreachable, TaskSetup
from kprov.provision.execute.variables import task_scope
from kprov.provision.modules.base import (
    Module,
    ModuleArgsError,
    ModuleContext,
    ModuleResult,
    ProbeKey,
    UnknownModuleError,
)
from kprov.provision.modules.registry import get_module
from kprov.provision.playbook.model import Task
from kprov.provision.template_filters import to_bool
from kprov.provision.templates import OMIT, VarScope

__all__ = ["TaskRunner"]

# with_<lookup> loops (with_dict, with_list are lookups in ansible-core): their errors fail the task
_WITH_LOOKUPS = frozenset({"__lookup__", "__dict2items__", "__list__"})
_OWN_FACT_ACTIONS = ("set_fact", "include_vars")  # they set variables themselves
DEFAULT_POLL_S = 15  # Ansible's default ``poll`` for an ``async`` task
_SKIPPED_BY_WHEN = MappingProxyType(SKIPPED_BY_WHEN)  # a task whose ``when`` is false: its registered result


def _async_dir(scope: VarScope) -> str:
    """Where a host keeps its async jobs (looked up only by async tasks: a hot path)."""
    return str(scope.get("ansible_async_dir") or DEFAULT_ASYNC_DIR)


def _int_keyword(scope: VarScope, value: Any, name: str, default: int) -> int:
    if value is None:
        return default
    rendered = scope.template(value, f"task field '{name}'")
    try:
        return int(rendered)
    except (TypeError, ValueError):
        raise ProvisionError(f"'{name}' must be a whole number of seconds, got {rendered!r}") from None


def _places_facts_per_item(task: Task) -> bool:
    """``delegate_facts`` may name another host per loop item: each item places its facts."""
    return bool(task.delegate_to) and task.delegate_facts is not None and task.action not in _OWN_FACT_ACTIONS


class TaskRunner:
    def __init__(self, run: RunContext, pctx: PlayContext, host: HostState) -> None:
        self.run, self.pctx, self.host = run, pctx, host
        self.setup = TaskSetup(run, pctx, host)

    # -- entry -----------------------------------------------------------------------------
    def title(self, task: Task, extra: dict[str, Any] | None = None) -> str:
        """The task's title with its name templated for this host, as the linear strategy
        templates it before the task runs (not failing: a name it cannot render stays as
        written)."""
        if "{{" not in task.name and "{%" not in task.name:
            return task.title
        try:
            name = str(self.scope(task, extra).template(task.name, f"task name ({task.origin})"))
        except Exception:  # noqa: BLE001 - ansible-core templates the name with fail_on_undefined=False
            return task.title
        role = task.scope.role.name if task.scope.role else ""
        return f"{role} : {name}" if role else name

    def execute(self, task: Task, extra: dict[str, Any] | None = None) -> TaskResult:
        start = time.monotonic()
        title = self.title(task, extra)
        self.run.observer.task_start(self.host.name, title)
        flags = render_flags(task, lambda: self.scope(task, extra))  # ignore_errors, no_log
        try:
            with self.run.log.hiding(flags.no_log):  # a no_log task's commands stay out of the run log
                status, registered = (self._execute(task, extra) if flags.error is None else keyword_failure(
                    task, flags.error, lambda: self._when(task, self.scope(task, extra)), _SKIPPED_BY_WHEN))
        except HostUnreachable as err:
            self.host.probes.invalidate()
            if not flags.ignore_unreachable:
                self.host.unreachable = True
                self.host.error = str(err)
            status, registered = "unreachable", {"unreachable": True, "msg": str(err), "changed": False}
        except UndefinedVariableError as err:
            named = UndefinedVariableError(err.variable, err.template, task.title)
            status, registered = "failed", {"failed": True, "msg": str(named), "changed": False}
        except ProvisionError as err:
            status, registered = (
                "failed",
                {"failed": True, "msg": f"task '{task.title}': {err}", "changed": False},
            )
        result = task_result(task, status, registered, time.monotonic() - start, host=self.host.name,
                             play=self.pctx.play.name, title=title, flags=flags)
        own_facts = task.action not in _OWN_FACT_ACTIONS and not _places_facts_per_item(task)
        if status in ("ok", "changed") and own_facts:
            inject_facts(registered, self.host)
        if task.register and (status != "unreachable" or result.ignored):
            # the registered copy has no top-level ``invocation`` (the strategy deletes it; the
            # reported result keeps it, with AnsibleModule's no_log masking)
            self.host.registered.add(task.register)
            self.host.runtime_vars[task.register] = (
                {k: v for k, v in registered.items() if k != "invocation"} if "invocation" in registered
                else registered)
        return result

    def facts_host(self, task: Task, scope: VarScope) -> HostState:
        """Whose facts the task's facts join: this host's, or with ``delegate_facts`` the
        ``delegate_to`` host's (ProvisionError: that is not a host of the run)."""
        if not task.delegate_to or task.delegate_facts is None:
            return self.host
        if not to_bool(scope.template(task.delegate_facts, "delegate_facts")):
            return self.host
        target = str(scope.template(task.delegate_to, "delegate_to"))
        state = self.run.hosts.get(target)
        if state is None:
            raise ProvisionError(f"delegate_facts: '{target}' is not an inventory host: kprov keeps facts "
                                 "for the inventory's hosts only")
        return state

    # -- when and loops --------------------------------------------------------------------
    def scope(self, task: Task, extra: dict[str, Any] | None = None) -> VarScope:
        return task_scope(self.run, self.pctx, self.host, task, extra)

    def _execute(self, task: Task, extra: dict[str, Any] | None) -> tuple[Status, dict[str, Any]]:
        scope = self.scope(task, extra)
        if task.loop is None:
            scope = delegated_scope(self.run, self.pctx, self.host, task, scope)
            if not self._when(task, scope):
                return "skipped", dict(_SKIPPED_BY_WHEN)
            return self._once(task, scope)
        try:
            items = loop_items(task, scope)
        except UndefinedVariableError as loop_error:
            self.raise_unless_skipped(task, scope, loop_error)
            return "skipped", dict(_SKIPPED_BY_WHEN)
        except TemplateError as lookup_error:
            if not (isinstance(task.loop, dict) and task.loop.keys() & _WITH_LOOKUPS):
                raise
            # ansible-core runs a with_<lookup> plugin itself: its error is the result's msg as is
            return "failed", {"failed": True, "msg": str(lookup_error), "changed": False}
        if not items:
            return "skipped", {"changed": False, "skipped": True, "skipped_reason": "No items in the list",
                               "results": []}
        item_scopes = self._item_scopes(task, scope, items)
        loop_var = str(scope.template(task.loop_control.get("loop_var", "item"), "loop_control.loop_var"))
        self._prefetch_items(task, [s for s in item_scopes if s is not None])
        results: list[dict[str, Any]] = []
        statuses: list[Status] = []
        status: Status
        reg: dict[str, Any]
        # loop_control.pause: seconds between items (not before the first), as ansible-core waits
        pause = float(scope.template(task.loop_control.get("pause", 0), "loop_control.pause") or 0)
        layers = item_layers(task, scope, items)
        for index, (item, item_scope) in enumerate(zip(items, item_scopes, strict=True)):
            if pause > 0 and index:
                time.sleep(pause)
            if item_scope is None:
                status, reg = "skipped", {"changed": False, "skipped": True}
            else:
                status, reg = self._once(task, item_scope)
            reg = {**reg, loop_var: item, "ansible_loop_var": loop_var}
            if "label" in task.loop_control:
                status, reg = labelled(task, item_scope or scope.child(layers[index]), status, reg)
            results.append(reg)
            statuses.append(status)
            if status == "unreachable":
                raise HostUnreachable(reg.get("msg", "unreachable"))
        return loop_outcome(statuses, results)

    def raise_unless_skipped(self, task: Task, scope: VarScope, loop_error: UndefinedVariableError) -> None:
        """A loop whose items are undefined, as ansible-core's TaskExecutor treats it: the
        error is kept, the task's ``when`` is evaluated without a loop item, and a false
        ``when`` skips the task (``loop: "{{ x.keys }}"`` guarded by ``when: x.keys is
        defined``); else (true, or itself failing) the loop's error is raised."""
        try:
            skip = not self._when(task, scope)
        except ProvisionError:
            skip = False
        if not skip:
            raise loop_error

    def _item_scopes(self, task: Task, scope: VarScope, items: list[Any]) -> list[VarScope | None]:
        """Each loop item's scope (None: its ``when`` is false)."""
        scopes = [delegated_scope(self.run, self.pctx, self.host, task, scope.child(layer))
                  for layer in item_layers(task, scope, items)]
        return [item_scope if self._when(task, item_scope) else None for item_scope in scopes]

    def run_once(self, task: Task, extra: dict[str, Any] | None) -> bool:
        return run_once_here(task, lambda: self.scope(task, extra))  # execute.sync

    def find_file(self, task: Task, name: str, kind: str) -> Path:
        """The controller file a task names (TaskSetup.find_file: role-relative, remembered)."""
        return self.setup.find_file(task, name, kind)

    def when_holds(self, task: Task, scope: VarScope) -> bool:
        """The task's ``when`` in ``scope`` (raises what templating it raises)."""
        return self._when(task, scope)

    def _when(self, task: Task, scope: VarScope) -> bool:
        return all(scope.condition(c, f"task field 'when' ({task.origin})") for c in task.when)

    # -- probes: the declared probes read ahead (execute.probe_plan) ----------------------
    def predict(self, task: Task, extra: dict[str, Any] | None = None) -> list[ProbeKey]:
        """The probes this task's module declares here, for each (loop item) run.

        Best effort: anything the task cannot template yet (a variable an earlier task will
        register, an unknown module, ...) predicts nothing. Never touches the host."""
        module = predictable_module(task, self.host)
        if module is None:
            return []
        try:
            scope = self.scope(task, extra)
            if task.loop is None:
                scopes = [scope] if self._when(task, scope) else []
            else:
                items = loop_items(task, scope)
                scopes = [s for s in self._item_scopes(task, scope, items) if s is not None]
            return self._keys(task, module, scopes)
        except Exception:  # noqa: BLE001 - a prediction is best effort; the real run reports errors
            return []

    def _keys(self, task: Task, module: Module, scopes: list[VarScope]) -> list[ProbeKey]:
        assert self.host.connector is not None
        keys = []
        for scope in scopes:
            try:
                args = self._args(task, scope)
                environment = self.setup.environment(task, scope)
            except ProvisionError:
                continue  # the task fails when it runs
            ctx = self.setup.module_context(task, scope, self.host.connector, environment)
            ctx.query = is_query(task, module)
            keys += declared_keys(module, ctx, args)
        return keys

    def prefetch(self, keys: list[ProbeKey], tasks: list[Task] | None = None,
                 generation: int | None = None, *, in_task: bool = False) -> None:
        """Read the probes the cache lacks in one round trip (probe_plan.read_ahead) and mark
        ``tasks`` covered. A lost host ends the task only ``in_task``; a read ahead of the
        tasks leaves them to find it."""
        try:
            read_ahead(self.host, keys, {t.uid for t in tasks or []}, generation,
                       lambda m: self.run.log.event(self.host.name, m))
        except UnreachableError as err:
            if in_task:
                raise HostUnreachable(str(err)) from None

    def _prefetch_items(self, task: Task, scopes: list[VarScope]) -> None:
        """A loop's items' probes, together (unless the look-ahead read them already)."""
        if len(scopes) < 2 or self.host.probes.covers(task.uid):
            return
        module = predictable_module(task, self.host)
        if module is not None:
            self.prefetch(self._keys(task, module, scopes), in_task=True)

    def settle(self, call: ModuleCall, changed: bool, failed: bool, task: Task) -> None:
        settle(call, changed, failed, lambda m: self.run.log.event(self.host.name, f"{task.title}: {m}"))

    # -- one execution (one loop item) -----------------------------------------------------
    def _args(self, task: Task, scope: VarScope) -> dict[str, Any]:
        raw_keys = RAW_ARG_KEYS.get(task.action, frozenset())
        given = task.args
        if "_variable_params" in given:  # ``module: "{{ a_mapping }}"``: the mapping is the args
            rendered = scope.template(given["_variable_params"], f"task args ({task.origin})")
            if not isinstance(rendered, dict):
                raise TemplateError(f"the arguments of '{task.action}' must render to a mapping, got "
                                    f"{type(rendered).__name__}")
            given = {**rendered, **{k: v for k, v in given.items() if k != "_variable_params"}}
        if task.module_defaults:
            given = {**defaults_for(task.action, task.module_defaults), **given}
        args = {
            k: (v if k in raw_keys else scope.template(v, f"task field '{k}' ({task.origin})"))
            for k, v in given.items()
        }
        return {k: v for k, v in args.items() if v != OMIT}

    def _once(self, task: Task, scope: VarScope) -> tuple[Status, dict[str, Any]]:
        """One execution, with ansible-core's attempt loop: ``retries`` (or ``until`` alone: 3)
        more runs while ``until`` (default: the attempt did not fail) is not met; each attempt's
        result has ``attempts`` and its ``changed_when``/``failed_when`` applied before
        ``until`` sees it; when the attempts run out it fails, ``attempts`` being ``retries``."""
        args = self._args(task, scope)
        polls = task.until is not None or task.retries is not None
        retries, delay = attempt_budget(task, scope)
        attempts = 0
        acted = False
        cached = True  # a poll reads the cache for its first attempt only (_call)
        while True:
            attempts += 1
            call = self._call(task, scope, args, cached)
            cached = not polls
            acted = acted or call.acted
            result = call.result
            registered = result.as_registered()
            if retries > 1:
                registered["attempts"] = attempts
            check_scope = scope.child({task.register or "result": registered})
            changed, failed = apply_conditions(task, check_scope, result, registered)
            if retries <= 1:
                break
            met = (all(check_scope.condition(c, "task field 'until'") for c in task.until)
                   if task.until is not None else not failed)
            if met:
                break
            # a read-ahead ran the command earlier: it is the first attempt (the host ran it
            # once, as ansible-core's would), the next one follows without the delay
            if attempts < retries and call.from_cache:
                continue
            if attempts >= retries:
                registered["attempts"] = retries - 1  # ansible-core's count when they run out
                registered.setdefault("msg", f"retries exhausted ({retries - 1}), until not met")
                # the result is failed; the task's status follows failed_when when there is one
                # (ansible-core's TaskResult.is_failed reads failed_when_result first)
                registered["failed"], failed = True, bool(registered.get("failed_when_result", True))
                break
            time.sleep(delay)
        call.acted = acted
        if result.skipped:
            self.settle(call, False, False, task)
            return "skipped", registered
        registered["changed"] = changed
        registered["failed"] = registered["failed"] or failed
        self.settle(call, changed, failed, task)
        if failed:
            return "failed", registered
        if _places_facts_per_item(task):
            inject_facts(registered, self.facts_host(task, scope))
        return ("changed" if changed else "ok"), registered

    def _call(self, task: Task, scope: VarScope, args: dict[str, Any], cached: bool = True) -> ModuleCall:
        where = task.origin  # the executor names the task in any error (execute)
        if task.action == "include_vars":
            return ModuleCall(include_vars(args, lambda name, kind: self.setup.find_file(task, name, kind),
                                      self.host.included_vars, where, self.run.engine.vault.decrypt,
                                      scope), None)
        if task.action == "group_by":
            return ModuleCall(group_by(self.run, self.host.name, args), None)
        if task.action == "add_host":
            return ModuleCall(add_host(self.run, args), None)
        runner = ENGINE_RUNNERS.get(task.action)
        if task.action == "debug" and int(args.get("verbosity", 0) or 0) > self.run.options.verbosity:
            return ModuleCall(ModuleResult(skipped=True,
                                           data={"skipped_reason": "Verbosity threshold not met."}), None)
        if runner is not None:
            owner = self.facts_host(task, scope) if task.action == "set_fact" else self.host
            return ModuleCall(runner(args, scope, owner.runtime_vars, where), None)
        connector, cache = self.setup.connector(task, scope)
        try:
            environment = self.setup.environment(task, scope)
        except ProvisionError as err:
            return ModuleCall(ModuleResult(failed=True, msg=str(err)), None)
        ctx = self.setup.module_context(task, scope, connector, environment)
        module: Module | AsyncStatus | AsyncTask
        try:
            module = (AsyncStatus(_async_dir(scope), self.run.async_finishers, self.run.planned_jobs)
                      if task.action in ASYNC_STATUS_NAMES else get_module(task.action))
        except UnknownModuleError as err:  # Ansible's module protocol, if the module is found
            found = protocol_module(self.run, task, str(err), scope)
            if isinstance(found, ModuleResult):
                return ModuleCall(found, None)
            module = found
        limit = _int_keyword(scope, task.async_seconds, "async", 0)
        if limit > 0:
            poll = _int_keyword(scope, task.poll, "poll", DEFAULT_POLL_S)
            module = AsyncTask(module, limit, poll, _async_dir(scope), self.run.async_finishers,
                               self.run.planned_jobs)
        ctx.query = is_query(task, module)
        # a poll (until/retries) sees the host anew at each attempt; a query's first one may be
        # read ahead
        polls = task.until is not None or task.retries is not None
        if connector is self.host.connector and (not polls or (cached and ctx.query)):
            ctx.probes = cache
        call = ModuleCall(self._run_module(module, ctx, args, task), cache)
        call.acted, call.judged_by_task = ctx.acted, module.changes_judged_by_task
        call.from_cache = ctx.cache_hit
        call.reports_job = isinstance(module, AsyncTask) and module.poll <= 0
        return call

    def _run_module(self, module: Any, ctx: ModuleContext, args: dict[str, Any], task: Task) -> ModuleResult:
        try:
            return module.run(ctx, args)  # type: ignore[no-any-return]
        except UnreachableError as err:
            if ctx.probes is not None:
                ctx.probes.invalidate()
            raise HostUnreachable(str(err)) from None
        except ConnectionFailure as err:
            return ModuleResult(failed=True, msg=str(err))
        except UndefinedVariableError:
            raise
        except ProvisionError as err:
            return ModuleResult(failed=True, msg=str(err))
        except ModuleArgsError as err:
            return ModuleResult(failed=True, msg=f"bad arguments: {err}")
        except FileNotFoundError as err:
            return ModuleResult(failed=True, msg=f"file not found: {err}")
        except Exception as err:  # a module bug must fail one task, not the run
            return ModuleResult(failed=True, msg=f"{task.action} raised {type(err).__name__}: {err}")

