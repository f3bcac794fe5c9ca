"""``meta`` actions as ansible-core's strategy runs them (``StrategyBase._execute_meta``).

Every meta action but ``noop``, ``refresh_inventory`` and ``reset_connection`` evaluates the
task's ``when`` first; when it is false the action does nothing and the host goes on (those
three ignore ``when``, with Ansible's warning). A meta task is not counted in the recap,
skipped or not, as Ansible counts none.

Which host decides: ansible-core's linear strategy runs a meta action once for the whole batch
— on the first host that reaches it, its ``when`` evaluated for that host — except for
``noop``, ``reset_connection``, ``end_host``, ``flush_handlers`` and ``end_role``, which run
per host. kprov's hosts run free, so the batch-wide actions are sync points here
(execute.sync): the hosts meet at the task and the first of them decides for all.

Effects: ``end_host`` ends the play for this host; ``end_play`` for every host of the play
(later batches too); ``end_batch`` for every host of this batch (the next batch starts);
``end_role`` skips the rest of the current role's tasks on this host (HostRunner consults
:class:`EndedRole`); ``clear_facts`` forgets the gathered and module-set facts of the play's
hosts (``set_fact`` variables stay, as Ansible's non-cacheable facts do);
``clear_host_errors`` makes the play's failed or unreachable hosts live again for the plays
that follow; ``flush_handlers`` runs the notified handlers; ``reset_connection`` starts a new
session; ``refresh_inventory`` is a no-op (kprov's inventory sources are read once);
``role_complete``, which the loader adds after each role invocation (never printed), marks
the invocation completed on a host that reached one of its tasks (:class:`RoleRuns`: a later
equal invocation whose ``allow_duplicates`` is false is passed over there; ``end_role``
stops at it).

A meta handler runs here too. What ansible-playbook prints of a meta task -- its banner,
``META: <msg>`` at -vv and a false ``when``'s ``skipping:`` line, in ``_execute_meta``'s words
-- goes to an observer's ``meta_done`` (``--output ansible``), never to the recap; the
loader's implicit flushes print nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kprov.provision.errors import ProvisionError
from kprov.provision.execute.outcome import Outcome
from kprov.provision.execute.results import TaskResult
from kprov.provision.inventory.patterns import select_hosts
from kprov.provision.playbook.model import Block, Item, Role, Task

if TYPE_CHECKING:
    from kprov.provision.execute.context import HostState, PlayContext, RunContext
    from kprov.provision.execute.task.runner import TaskRunner

__all__ = ["BATCH_WIDE", "END_BATCH", "END_PLAY", "EndedRole", "meta_action", "run_meta"]

WITHOUT_WHEN = ("noop", "refresh_inventory", "reset_connection")
BATCH_WIDE = ("clear_facts", "clear_host_errors", "end_batch", "end_play", "refresh_inventory")
KNOWN = (*WITHOUT_WHEN, "flush_handlers", "clear_facts", "clear_host_errors", "end_batch", "end_play",
         "end_host", "end_role", "role_complete")
# the batch's abort reasons these two leave (execute.play_runner tells them from failures)
END_PLAY = "meta: end_play"
END_BATCH = "meta: end_batch"


class MetaHost(Protocol):
    """What a meta action reads and changes of the host runner that meets it
    (:class:`.host_runner.HostRunner`; declared here so this module need not import it)."""

    run: RunContext
    pctx: PlayContext
    host: HostState
    tasks: TaskRunner
    ended_role: EndedRole | None
    role_runs: RoleRuns

    def flush_handlers(self) -> Outcome: ...


def meta_action(task: Task) -> str:
    return str(task.args.get("_raw_params") or task.args.get("action") or "").strip()


@dataclass
class RoleRuns:
    """A host's role invocations in a play (Scope.role_key): those that reached a task there
    (ansible-core's ``_had_task_run``) and those that completed there (``_completed``: the
    loader's implicit ``role_complete`` after their tasks met one that reached a task)."""

    ran: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)

    def passes_over(self, task: Task) -> bool:
        """Whether the host passes over ``task``: an equal invocation completed here and the
        task's own allows no duplicates (the linear strategy's check); else it is reached."""
        key = task.scope.role_key
        if not key:
            return False
        if key in self.done and not task.scope.allow_duplicates:
            return True
        if not task.implicit:
            self.ran.add(key)
        return False

    def complete(self, task: Task) -> None:
        if task.scope.role_key in self.ran:
            self.done.add(task.scope.role_key)


@dataclass(frozen=True)
class EndedRole:
    """The role invocation an ``end_role`` ended on a host: its tasks (and those it includes)
    are passed over until the walk reaches a task of another invocation."""

    role: Role
    chain: tuple[Role, ...]
    params: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, task: Task) -> EndedRole | None:
        scope = task.scope
        if scope.role is None:
            return None
        return cls(scope.role, scope.role_chain, scope.role_params)

    def covers(self, item: Item) -> bool:
        """Whether ``item`` belongs to the ended invocation (a block: by its first task)."""
        task = _first_task(item)
        if task is None:
            return True  # an empty block: nothing to run either way
        if task.implicit and meta_action(task) == "role_complete":
            return False  # where ansible-core's end_role stops
        scope = task.scope
        return scope.role is self.role and scope.role_chain == self.chain and scope.role_params == self.params


def _first_task(item: Item) -> Task | None:
    if isinstance(item, Task):
        return item
    assert isinstance(item, Block)
    for inner in (*item.block, *item.rescue, *item.always):
        found = _first_task(inner)
        if found is not None:
            return found
    return None


def run_meta(runner: MetaHost, task: Task, extra: dict[str, Any] | None, handler: bool = False) -> Outcome:
    what = meta_action(task)
    if what not in KNOWN:
        raise ProvisionError(f"{task.origin}: invalid meta action requested: {what}")
    if what == "role_complete":  # the loader's, after a role invocation's tasks (RoleRuns)
        if task.implicit:
            runner.role_runs.complete(task)
        return "ok"
    host = runner.host.name
    if what in WITHOUT_WHEN and task.when:
        runner.run.log.event(host, f"[WARNING]: {what} task does not support when conditional")
    if what in BATCH_WIDE:
        return _batch_wide(runner, task, what, extra, handler)
    if what in WITHOUT_WHEN:
        if what == "reset_connection" and runner.host.connector is not None:
            runner.host.connector.reset()  # later tasks run in a new session, as Ansible's
        _report(runner, task, handler, _done_msg(runner, task, what))
        return "ok"
    if not _holds(runner, task, extra):
        return _skipped(runner, task, what, handler)
    _report(runner, task, handler, _done_msg(runner, task, what))
    if what == "flush_handlers":
        return runner.flush_handlers()
    if what == "end_host":
        runner.run.log.event(host, f"meta: ending play for {host}")
        runner.pctx.end([host])
        return "ended"
    # end_role (the loader refuses it outside a role)
    runner.ended_role = EndedRole.of(task)
    role = task.scope.role.name if task.scope.role else ""
    runner.run.log.event(host, f"meta: ending role {role} for {host}")
    return "ok"


def _done_msg(runner: MetaHost, task: Task, what: str) -> str:
    """The action's ``msg`` as ansible-core's ``_execute_meta`` words it when it acted."""
    host = runner.host.name
    role = task.scope.role.name if task.scope.role else ""
    return {"refresh_inventory": "inventory successfully refreshed",
            "reset_connection": "reset connection",
            "flush_handlers": f"triggered running handlers for {host}",
            "clear_facts": "facts cleared", "clear_host_errors": "cleared host errors",
            "end_batch": "ending batch", "end_play": "ending play",
            "end_host": f"ending play for {host}",
            "end_role": f"ending role {role} for {host}"}.get(what, what)


def _skip_result(runner: MetaHost, task: Task, what: str) -> dict[str, Any]:
    """A false ``when``: ansible-core's skipped result (``msg``, ``skip_reason``)."""
    host = runner.host.name
    role = task.scope.role.name if task.scope.role else ""
    suffix = {"flush_handlers": f", not running handlers for {host}",
              "clear_facts": f", not clearing facts and fact cache for {host}",
              "clear_host_errors": f", not clearing host error state for {host}",
              "end_batch": ", continuing current batch", "end_play": ", continuing play",
              "end_host": f", continuing execution for {host}",
              "end_role": f"continuing role {role} for {host}"}.get(what, "")  # sic: no comma
    msg = what
    if what == "end_host":
        msg = f"end_host conditional evaluated to false, continuing execution for {host}"
    return {"msg": msg, "skip_reason": f"{what} conditional evaluated to False{suffix}"}


def _report(runner: MetaHost, task: Task, handler: bool, msg: str,
            skipped: dict[str, Any] | None = None) -> None:
    """What ansible-playbook prints of a meta task (its banner, ``META:`` at -vv, a skip's
    line), through the observer's ``meta_done`` where it has one: never in the recap."""
    hook = getattr(runner.run.observer, "meta_done", None)
    if hook is None or task.implicit:
        return
    hook(TaskResult(host=runner.host.name, task=task.title, action="meta",
                    status="skipped" if skipped else "ok",
                    msg=skipped["skip_reason"] if skipped else msg,
                    result=skipped or {"msg": msg, "changed": False}, origin=task.origin,
                    play=runner.pctx.play.name, handler=handler))


def _holds(runner: MetaHost, task: Task, extra: dict[str, Any] | None) -> bool:
    if not task.when:
        return True
    scope = runner.tasks.scope(task, extra)
    where = f"task field 'when' ({task.origin})"
    return all(scope.condition(c, where) for c in task.when)


def _skipped(runner: MetaHost, task: Task, what: str, handler: bool) -> Outcome:
    runner.run.log.event(runner.host.name, f"meta: {what} conditional evaluated to False, skipped")
    _report(runner, task, handler, what, _skip_result(runner, task, what))
    return "ok"


def _batch_wide(runner: MetaHost, task: Task, what: str, extra: dict[str, Any] | None,
                handler: bool) -> Outcome:
    """Run once for the batch: the hosts meet at the task, the first decides and acts for all."""
    sync = runner.pctx.sync
    generation, released = sync.wait(runner.host.name, task.uid)
    if sync.aborted:
        return "ended"
    _, acted = sync.run_once(runner.host.name, task.uid, generation, released,
                             lambda: _act_for_batch(runner, task, what, extra, handler))
    if not acted:
        return "ok"
    return "ended" if what in ("end_play", "end_batch") else "ok"


def _act_for_batch(runner: MetaHost, task: Task, what: str, extra: dict[str, Any] | None,
                   handler: bool) -> bool:
    if what != "refresh_inventory" and not _holds(runner, task, extra):
        _skipped(runner, task, what, handler)
        return False
    _report(runner, task, handler, _done_msg(runner, task, what))
    run, pctx = runner.run, runner.pctx
    if what == "end_play":
        pctx.end(pctx.batch)
        pctx.sync.abort(f"{END_PLAY} on {runner.host.name}")
    elif what == "end_batch":
        pctx.end(pctx.batch)
        pctx.sync.abort(f"{END_BATCH} on {runner.host.name}")
    elif what == "clear_facts":
        for name in pctx.hosts:
            state = run.hosts.get(name)
            if state is None:
                continue
            kept = {k: v for k, v in state.facts.items() if k.startswith("kprov_")}
            state.facts.clear()
            state.facts.update(kept)
            state.injected_facts.clear()
            state.facts_changes += 1
            state.fact_layer_memo = None
    elif what == "clear_host_errors":
        for name in _play_pattern_hosts(runner):
            state = run.hosts.get(name)
            if state is not None:  # a host in a block's always, failed underneath, too
                state.errors_cleared += 1
                run.report.forgive(name)
            if state is not None and not state.alive:
                state.failed = state.unreachable = False
                state.error = ""
    run.log.event(runner.host.name, f"meta: {what}")
    return True


def _play_pattern_hosts(runner: MetaHost) -> list[str]:
    """Every host the play's pattern names (failed and unreachable ones too, which
    ``pctx.hosts`` leaves out), within ``--limit``: what Ansible's ``get_hosts(play.hosts)`` is."""
    run = runner.run
    wanted = select_hosts(run.inventory, runner.pctx.play.hosts)
    if run.options.limit:
        allowed = set(select_hosts(run.inventory, run.options.limit))
        wanted = [h for h in wanted if h in allowed]
    return wanted
