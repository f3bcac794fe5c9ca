"""Run a play's task list on one host (one thread per host).

Walks blocks (``rescue`` runs when a ``block`` task failed, ``always`` runs regardless),
expands ``include_tasks``/``include_role`` per host at run time, runs ``meta`` actions,
applies ``--tags``/``--skip-tags``, records every result, and runs notified handlers at each
``flush_handlers`` point (the play inserts one after pre_tasks, after roles+tasks, and
after post_tasks) once each, as ansible-core finds and orders them (execute.handler_search).
A failed task stops this host only (unless ``ignore_errors``); sync points and ``run_once``
go through :mod:`execute.sync`. An interrupt (execute.interrupt) ends the host before its
next task or handler. Notified
handlers are recorded on the host until they ran (execute.pending), so a rerun runs them.

Reading ahead (execute.prefetch): at the play's start the probes of every task of the play
are predicted and read in one round trip into the host's probe cache, assuming each
earlier task of the play reports ``ok`` (a registered result stands in as unchanged); after a
task drops the cache (it changed the host), the probes of the plain tasks that come next,
up to the first one that cannot be predicted, are read together again.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from kprov.provision.errors import ProvisionError, RunParseError, UndefinedVariableError
from kprov.provision.execute.context import HostState, PlayContext, RunContext
from kprov.provision.execute.handler_search import (
    MISSING_HANDLER,
    adopt_role_handlers,
    definition_order,
    handler_name,
    notify_names,
    search,
)
from kprov.provision.execute.meta import EndedRole, RoleRuns, run_meta
from kprov.provision.execute.outcome import Outcome
from kprov.provision.execute.pending import (
    clear_pending,
    forget_failed_host,
    mark_pending,
    notify_reason,
    queue_pending,
)
from kprov.provision.execute.results import TaskResult
from kprov.provision.execute.sync import RUN_ERROR, is_sync_point, share_once
from kprov.provision.execute.tags import expand_tags, tags_selected
from kprov.provision.execute.task.include_run import include_calls, include_failed
from kprov.provision.execute.task.runner import TaskRunner
from kprov.provision.execute.variables import host_scope
from kprov.provision.modules.base import ProbeKey
from kprov.provision.playbook.model import Block, Item, Role, Task
from kprov.provision.template_filters import to_bool

__all__ = ["HostRunner", "notify_reason", "tags_selected"]

_SPECIAL_ACTIONS = ("meta", "include_tasks", "include_role", "import_tasks", "import_role")
# A registered result as the play-wide look-ahead assumes it: the task reported ok.
_UNCHANGED = {"changed": False, "failed": False, "skipped": False}


class HostRunner:
    def __init__(self, run: RunContext, pctx: PlayContext, host: HostState) -> None:
        self.run, self.pctx, self.host = run, pctx, host
        self.tasks = TaskRunner(run, pctx, host)
        self._ran_task = self._queued_pending = False
        self._failure: tuple[Task, TaskResult] | None = None  # the last failed task (for rescue)
        self._rescue_uncounted = False  # forced by another host, or a handler's: a rescue counts none
        self._in_handler = False  # running what a handler's include loaded
        self.ended_role: EndedRole | None = None  # a ``meta: end_role`` passes over the rest of it
        self.role_runs = RoleRuns()  # role invocations reached and completed (allow_duplicates)

    def run_play(self) -> Outcome:
        self._report_facts_gathered()
        self._read_play_ahead()
        outcome = self.items(self.pctx.play.items)
        if outcome == "ok" and self._forced():  # forced after its last task: out of the play
            outcome = "failed"
        if outcome == "failed" and self._force_handlers():
            self.flush_handlers()  # the host stays failed: only its notified handlers run
        elif outcome == "failed" and self.host.failed and not self.run.interrupt.is_set():
            forget_failed_host(self.pctx, self.host, check=self.run.options.check)  # as ansible-core
        return outcome

    def _tags(self, task: Task, extra: dict[str, Any] | None) -> list[str]:
        """The task's tags, a templated one rendered (``tags: "{{ the_tags }}"``)."""
        if not any("{{" in t for t in task.tags):
            return task.tags
        scope = self.tasks.scope(task, extra)
        return expand_tags(task.tags, lambda text: scope.template(text, f"task field 'tags' ({task.origin})"))

    def _force_handlers(self) -> bool:
        keyword = self.pctx.play.force_handlers
        return self.run.options.force_handlers if keyword is None else to_bool(keyword)

    def _report_facts_gathered(self) -> None:
        """Gathered facts reported per host in every play that gathers, as Ansible's implicit task
        (kprov gathers once, on connect; a host whose gathering failed is not here): ok, or
        skipped where the play's import_playbook ``when`` is false; tagged ``always`` and the play's tags."""
        play, opts = self.pctx.play, self.run.options
        if not (play.gather_facts and self.host.facts and tags_selected(["always", *play.tags], opts.tags,
                                                                        opts.skip_tags)):
            return
        scope = host_scope(self.run, self.pctx, self.host)
        held = all(scope.condition(c, f"import_playbook when ({play.name})") for c in play.included_when)
        result = TaskResult(host=self.host.name, task="Gathering Facts", action="gather_facts",
                            status="ok" if held else "skipped", play=play.name)
        self.run.report.record(result)
        self.run.observer.task_done(result)

    # -- crash-safe handlers (execute.pending) -----------------------------------------------
    def _handlers(self) -> list[Task]:
        return self.pctx.handlers.get(self.host.name, self.pctx.play.handlers)

    def _queue_pending(self) -> None:
        """An earlier run's pending handlers, once per play, at the first flush after a task."""
        if self.host.pending() and self._ran_task and not self._queued_pending:
            self._queued_pending = True
            queue_pending(self.run, self.pctx, self.host, self._handlers(), self._handler_name)

    # -- walking ---------------------------------------------------------------------------
    def items(self, items: list[Item], extra: dict[str, Any] | None = None) -> Outcome:
        for index, item in enumerate(items):
            if self.pctx.sync.aborted or self.run.interrupt.is_set():
                return "ended"
            if self.ended_role is not None:
                if self.ended_role.covers(item):
                    continue
                self.ended_role = None
            if isinstance(item, Task) and not self.host.probes.covers(item.uid):
                self._look_ahead(items[index:], extra)
            outcome = self.block(item, extra) if isinstance(item, Block) else self.task(item, extra)
            if outcome != "ok":
                return outcome
        return "ok"

    def block(self, block: Block, extra: dict[str, Any] | None) -> Outcome:
        outcome = self.items(block.block, extra)
        if outcome == "failed" and block.rescue:
            self.host.failed = False
            if not self._rescue_uncounted:  # ansible-core counts a rescue of a task's own failure
                self.run.report.rescued(self.host.name)
            self._rescue_uncounted = False
            outcome = self.items(block.rescue, {**(extra or {}), **self._failure_vars()})
        if block.always and outcome != "unreachable":
            was_failed, cleared = self.host.failed, self.host.errors_cleared
            self.host.failed = False
            always = self.items(block.always, extra)
            if self.host.errors_cleared != cleared:  # clear_host_errors in always: the host goes on
                was_failed, outcome = False, "ok"
            self.host.failed = was_failed or always == "failed"
            outcome = always if always != "ok" else outcome
        return outcome

    def task(self, task: Task, extra: dict[str, Any] | None) -> Outcome:
        opts, runs = self.run.options, self.role_runs  # a handler's tasks are never passed over
        if not tags_selected(self._tags(task, extra), opts.tags, opts.skip_tags) or (
                not self._in_handler and runs.passes_over(task)):
            return "ok"
        if task.action == "meta":
            return self.meta(task, extra)
        if task.action in ("include_tasks", "include_role"):
            if task.run_once and self._needs_sync(task):
                generation, released = self.pctx.sync.wait(self.host.name, task.uid)
                if self.pctx.sync.aborted:
                    return "ended"
                if self._forced():
                    return "failed"
                if self.tasks.run_once(task, extra):  # the first host includes, the others wait (linear)
                    ran, outcome = self.pctx.sync.run_once(self.host.name, task.uid, generation, released,
                                                           lambda: self.include(task, extra), aside=True)
                    return outcome if ran else "ok"
            return self.include(task, extra)
        if self._needs_sync(task):
            generation, released = self.pctx.sync.wait(self.host.name, task.uid)
            if self.pctx.sync.aborted:
                return "ended"
            if self._forced():  # met here after another host's fatal failure (an include, a meta)
                return "failed"
            if self.tasks.run_once(task, extra):
                ran, result = self.pctx.sync.run_once(
                    self.host.name, task.uid, generation, released, lambda: self.tasks.execute(task, extra)
                )
                if not ran:
                    return self._settle(task, self._adopt(task, result))
                share_once(task, result.result, self.host.name, [self.run.hosts[h] for h in self.pctx.batch])
                return self._settle(task, self._after(task, result))
        return self._settle(task, self._after(task, self._throttled(task, extra)))

    def _settle(self, task: Task, outcome: Outcome) -> Outcome:
        """``any_errors_fatal``: the batch's hosts meet after each task, and when one of them
        failed it, every other one fails where it stands (execute.sync), as ansible-core's
        linear strategy marks them failed: the rescue or always of the block around this task
        runs next, or the host leaves the play."""
        if not self.pctx.play.any_errors_fatal:
            return outcome
        self.pctx.sync.wait(self.host.name, -task.uid)
        if self.pctx.sync.aborted:
            return "ended"
        if outcome == "ok" and self._forced():
            return "failed"
        return outcome

    def _forced(self) -> bool:
        """Whether another host's fatal failure fails this one now (no result of its own)."""
        if not self.pctx.sync.take_forced(self.host.name):
            return False
        self.host.failed = True
        self.host.error = self.pctx.sync.fatal_reason
        self._rescue_uncounted = True
        return True

    def _throttled(self, task: Task, extra: dict[str, Any] | None = None) -> TaskResult:
        limit = self.pctx.throttle(task)
        if limit is None:
            return self.tasks.execute(task, extra)
        with limit:
            return self.tasks.execute(task, extra)

    def _adopt(self, task: Task, result: TaskResult) -> Outcome:
        """Take another host's run_once result (its register and facts: sync.share_once)."""
        if result.status == "changed":
            self._notify(task, result)
        return "ok"

    def _after(self, task: Task, result: TaskResult) -> Outcome:
        self._ran_task = True
        result.handler = result.handler or self._in_handler
        self.run.report.record(result)
        self.run.observer.task_done(result)
        if result.status == "unreachable" and not result.ignored:
            return "unreachable"
        if result.status == "failed" and not result.ignored:
            self._failure = (task, result)
            self._rescue_uncounted = result.handler and not self._force_handlers()  # as measured
            self.host.failed = True
            self.host.error = result.msg
            self.pctx.sync.failed(self.host.name, fatal=self.pctx.play.any_errors_fatal)
            return "failed"
        if result.status == "changed" and not self._notify(task, result):
            return "ended"  # a notification that names no handler ends the run, as ansible-core's
        return "ok"

    def _failure_vars(self) -> dict[str, Any]:
        """What a rescue sees of the failure: ``ansible_failed_task`` (its name, action, args,
        tags, as the task's fields) and ``ansible_failed_result`` (its registered result)."""
        if self._failure is None:
            return {}
        task, result = self._failure
        return {"ansible_failed_task": {"name": task.name or task.title, "action": task.action,
                                        "args": dict(task.args), "tags": list(task.tags)},
                "ansible_failed_result": result.result}

    # -- reading probes ahead ------------------------------------------------------------------
    def _read_play_ahead(self) -> None:
        """The play's predictable probes not read yet, in one round trip, before its first task."""
        if self.host.connector is None:
            return
        generation = self.host.probes.generation
        tasks, keys = self.predict_play({})
        self.tasks.prefetch(keys, tasks, generation)

    def predict_play(self, standins: dict[str, Any]) -> tuple[list[Task], list[ProbeKey]]:
        """The play's tasks not covered yet and their predicted probes. ``standins``: results
        registered by earlier tasks (of earlier plays too), as if they reported ok; the
        play's own registrations are added to it."""
        tasks: list[Task] = []
        keys: list[ProbeKey] = []
        for task in self._walk(self.pctx.play.items):
            if not task.run_once and not self.host.probes.covers(task.uid):
                tasks.append(task)
                keys += self.tasks.predict(task, dict(standins) if standins else None)
            if task.register:
                standins[task.register] = _UNCHANGED
        return tasks, keys

    def selected_tasks(self, items: list[Item]) -> list[Task]:
        """The tasks of ``items`` this host walks, as the look-ahead sees them (see _walk)."""
        return self._walk(items)

    def _walk(self, items: list[Item]) -> list[Task]:
        """The play's tasks in order (blocks and their ``always``; not rescues, includes, meta),
        as far as the tags select them."""
        opts = self.run.options
        found: list[Task] = []
        for item in items:
            if isinstance(item, Block):
                found += self._walk(item.block) + self._walk(item.always)
            elif item.action not in _SPECIAL_ACTIONS and tags_selected(item.tags, opts.tags, opts.skip_tags):
                found.append(item)
        return found

    def _look_ahead(self, items: list[Item], extra: dict[str, Any] | None) -> None:
        """After the cache was dropped: the probes of the plain tasks that come next, together.

        The run stops at the first item that is not such a task (a block, loop, include,
        meta, sync point, ...), that predicts no probe (a command), or that mentions what an
        earlier one registers."""
        candidates: list[Task] = []
        keys: list[ProbeKey] = []
        registered: list[str] = []
        opts = self.run.options
        generation = self.host.probes.generation
        for item in items:
            if not isinstance(item, Task) or not self._plain_task(item):
                break
            text = repr((item.args, item.when, item.vars))
            if any(name in text for name in registered):
                break
            if tags_selected(item.tags, opts.tags, opts.skip_tags):
                predicted = self.tasks.predict(item, extra)
                if not predicted:
                    break
                candidates.append(item)
                keys += predicted
            if item.register:
                registered.append(item.register)
        if len(candidates) > 1:
            self.tasks.prefetch(keys, candidates, generation)

    def _plain_task(self, task: Task) -> bool:
        return (task.action not in _SPECIAL_ACTIONS and task.loop is None and not task.delegate_to
                and task.until is None and not task.run_once and not self._needs_sync(task))

    def _needs_sync(self, task: Task) -> bool:
        cached = self.pctx.sync_tasks.get(task.uid)
        if cached is None:
            cached = is_sync_point(task, self.pctx.play, self.tasks.find_file)
            self.pctx.sync_tasks[task.uid] = cached
        return cached

    # -- meta, includes, handlers ----------------------------------------------------------
    def meta(self, task: Task, extra: dict[str, Any] | None = None, handler: bool = False) -> Outcome:
        """A ``meta`` action (a handler's too), its ``when`` evaluated as Ansible's (execute.meta)."""
        try:
            return run_meta(self, task, extra, handler)
        except UndefinedVariableError as err:
            msg = str(UndefinedVariableError(err.variable, err.template, task.title))
            return self._fail(task.title, task.action, msg, task.origin)
        except ProvisionError as err:
            return self._fail(task.title, task.action, str(err), task.origin)

    def include(self, task: Task, extra: dict[str, Any] | None) -> Outcome:
        """An include_tasks/include_role: per loop item, its ``when`` and arguments (their
        errors are the include task's own failure, which ``ignore_errors`` may ignore and
        ``register`` records, as ansible-core's TaskExecutor runs the include), then the file
        or role loaded and run (a load error fails the host, as the strategy's)."""
        loader = self.run.loader
        assert loader is not None, "a run with plays needs a PlaybookLoader"
        try:
            calls = include_calls(self.tasks, task, extra)
        except ProvisionError as err:
            return self._after(task, include_failed(self.tasks, task, err, extra))
        try:
            for item_extra, args in calls:
                if task.action == "include_tasks":
                    loaded = loader.include_tasks(task, args, as_handlers=self._in_handler)
                else:
                    # the include_role task's own ``vars`` hold for every task of the role, its
                    # nested includes too, as an include_tasks' do (ansible-core: the include's
                    # vars are its block's, which the role's blocks inherit)
                    role_scope = dataclasses.replace(task.include_scope(),
                                                     vars=(*task.scope.vars, dict(task.vars)))
                    found: list[Role] = []
                    loaded = loader.role_items(args, role_scope, None, None, task.origin, found)
                    if to_bool(args.get("public", False)):
                        self.pctx.publish(found[0])
                    for role_task in loaded:  # handlers_from names the included role's file
                        adopt_role_handlers(self.pctx, loader, self.host.name, role_task, args)
                self._record_include(task, "ok")
                outcome = self.items(loaded, item_extra or extra)
                if outcome != "ok":
                    return outcome
            if not calls:
                self._record_include(task, "skipped")
        except RunParseError as err:  # ansible-core raises it out of the run
            self.pctx.sync.abort(RUN_ERROR + str(err))
            return "ended"
        except UndefinedVariableError as err:
            named = UndefinedVariableError(err.variable, err.template, task.title)
            return self._fail_include(task, str(named))
        except ProvisionError as err:
            return self._fail_include(task, f"task '{task.title}': {err}")
        return "ok"

    def _record_include(self, task: Task, status: Literal["ok", "skipped"]) -> None:
        """An include in the recap as Ansible counts it: ok once per file (or role) it loaded
        for the host, before the included tasks run; skipped once when it loaded none."""
        result = TaskResult(host=self.host.name, task=task.title, action=task.action, status=status,
                            origin=task.origin, play=self.pctx.play.name, handler=self._in_handler)
        self.run.report.record(result)
        self.run.observer.task_done(result)

    def _fail_include(self, task: Task, msg: str) -> Outcome:
        return self._fail(task.title, task.action, msg, task.origin)

    def _fail(self, title: str, action: str, msg: str, origin: str) -> Outcome:
        result = TaskResult(host=self.host.name, task=title, action=action, status="failed", msg=msg,
                            origin=origin, play=self.pctx.play.name)
        self.run.report.record(result)
        self.run.observer.task_done(result)
        self.host.failed = True
        self.host.error = msg
        self.pctx.sync.failed(self.host.name, fatal=self.pctx.play.any_errors_fatal)
        return "failed"

    def _notify(self, task: Task, result: TaskResult) -> bool:
        """Queue the task's notifications; False when one names no handler (ansible-core's
        error, which ends the run, unless ANSIBLE_ERROR_ON_MISSING_HANDLER is off: a warning)."""
        queue = self.pctx.notified.setdefault(self.host.name, [])
        why = self.pctx.why.setdefault(self.host.name, {})
        reason = notify_reason(task.title, result)
        names: list[str] = []
        for name in self._notify_names(task):
            if not search(name, self._handlers(), self._handler_name):
                if self.run.options.error_on_missing_handler:
                    self.pctx.sync.abort(RUN_ERROR + MISSING_HANDLER.format(name))
                    return False
                self._warn(MISSING_HANDLER.format(name))
                continue
            names.append(name)
            if name not in queue:
                queue.append(name)
            if reason not in why.setdefault(name, []):
                why[name].append(reason)
        if names:
            mark_pending(self.run, self.pctx, self.host, names)
        return True

    def _notify_names(self, task: Task) -> list[str]:
        return notify_names(task, self._render)

    def _handler_name(self, handler: Task) -> str | None:
        return handler_name(handler, self._render, self._warn)

    def _render(self, task: Task, text: str, where: str) -> Any:
        return self.tasks.scope(task, None).template(text, where)

    def _warn(self, msg: str) -> None:
        """A warning: in the run log, and on the console of an observer that prints them."""
        self.run.log.event(self.host.name, f"[WARNING]: {msg}")
        warning = getattr(self.run.observer, "warning", None)
        if warning is not None:
            warning(msg)

    def flush_handlers(self) -> Outcome:
        """The notified handlers, in the order they are defined (execute.handler_search)."""
        self._queue_pending()
        handlers = self._handlers()
        marks: dict[int, tuple[list[str], list[str]]] = {}  # handler uid -> (notifications, why)
        self._take_notifications(handlers, marks)
        for handler in definition_order(handlers):
            if self.run.interrupt.is_set():
                return "ended"  # the handlers stay pending (the host's restart markers say so)
            if handler.uid not in marks:
                continue
            names, reasons = marks.pop(handler.uid)
            outcome = self._run_handler(handler, reasons)
            if outcome != "ok":  # its notifications stay pending (a restart not yet healthy)
                return outcome
            self._take_notifications(handlers, marks)  # a later handler's run in this pass
            for name in names:
                if not any(name in other for other, _ in marks.values()):
                    clear_pending(self.run, self.host, name)
        later = [n for names, _ in marks.values() for n in names]  # earlier handlers: next flush
        self.pctx.notified.setdefault(self.host.name, [])[:0] = list(dict.fromkeys(later))
        return "ok"

    def _take_notifications(self, handlers: list[Task], marks: dict[int, tuple[list[str], list[str]]]
                            ) -> None:
        queue = self.pctx.notified.get(self.host.name) or []
        why = self.pctx.why.get(self.host.name, {})
        while queue:
            name = queue.pop(0)
            reasons = why.pop(name, [])
            for handler in search(name, handlers, self._handler_name):
                names, why_here = marks.setdefault(handler.uid, ([], []))
                names.append(name)
                why_here += [r for r in reasons if r not in why_here]

    def _run_handler(self, handler: Task, reasons: list[str]) -> Outcome:
        if handler.action in ("include_tasks", "include_role"):  # a handler may include tasks,
            self._in_handler = True  # which are handlers then (RUNNING HANDLER)
            try:
                return self.include(handler, None)
            finally:
                self._in_handler = False
        if handler.action == "meta":  # run as the strategy runs a meta task (never counted)
            return self.meta(handler, None, handler=True)
        if self.tasks.run_once(handler, None):  # the hosts flushing it meet; the first runs it for all
            generation, released = self.pctx.sync.wait(self.host.name, handler.uid)
            ran, result = self.pctx.sync.run_once(self.host.name, handler.uid, generation, released,
                                                  lambda: self._throttled(handler))
            if not ran:
                return self._adopt(handler, result)
        else:
            result = self._throttled(handler)
        result.why = list(reasons)
        result.handler = True
        return self._after(handler, result)
