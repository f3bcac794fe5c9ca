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
session; ``refresh_inventory`` is a no-op (kprov's inventory sources are read once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from kprov.provision.errors import ProvisionError
from kprov.provision.execute.outcome import Outcome
from kprov.provision.inventory.patterns import select_hosts
from kprov.provision.playbook.model import Block, Item, Role, Task

if TYPE_CHECKING:
    from kprov.provision.execute.context import HostState, PlayContext, RunContext
    from kprov.provision.execute.task.runner import TaskRunner

__all__ = ["BATCH_WIDE", "END_BATCH", "END_PLAY", "EndedRole", "meta_action", "run_meta"]

WITHOUT_WHEN = ("noop", "refresh_inventory", "reset_connection")
BATCH_WIDE = ("clear_facts", "clear_host_errors", "end_batch", "end_play", "refresh_inventory")
KNOWN = (*WITHOUT_WHEN, "flush_handlers", "clear_facts", "clear_host_errors", "end_batch", "end_play",
         "end_host", "end_role")
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

    def flush_handlers(self) -> Outcome: ...


def meta_action(task: Task) -> str:
    return str(task.args.get("_raw_params") or task.args.get("action") or "").strip()


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


def run_meta(runner: MetaHost, task: Task, extra: dict[str, Any] | None) -> Outcome:
    what = meta_action(task)
    if what not in KNOWN:
        raise ProvisionError(f"{task.origin}: invalid meta action requested: {what}")
    host = runner.host.name
    if what in WITHOUT_WHEN and task.when:
        runner.run.log.event(host, f"[WARNING]: {what} task does not support when conditional")
    if what in BATCH_WIDE:
        return _batch_wide(runner, task, what, extra)
    if what in WITHOUT_WHEN:
        if what == "reset_connection" and runner.host.connector is not None:
            runner.host.connector.reset()  # later tasks run in a new session, as Ansible's
        return "ok"
    if not _holds(runner, task, extra):
        return _skipped(runner, what)
    if what == "flush_handlers":
        return runner.flush_handlers()
    if what == "end_host":
        runner.run.log.event(host, f"meta: ending play for {host}")
        return "ended"
    # end_role (the loader refuses it outside a role)
    runner.ended_role = EndedRole.of(task)
    role = task.scope.role.name if task.scope.role else ""
    runner.run.log.event(host, f"meta: ending role {role} for {host}")
    return "ok"


def _holds(runner: MetaHost, task: Task, extra: dict[str, Any] | None) -> bool:
    if not task.when:
        return True
    scope = runner.tasks.scope(task, extra)
    where = f"task field 'when' ({task.origin})"
    return all(scope.condition(c, where) for c in task.when)


def _skipped(runner: MetaHost, what: str) -> Outcome:
    runner.run.log.event(runner.host.name, f"meta: {what} conditional evaluated to False, skipped")
    return "ok"


def _batch_wide(runner: MetaHost, task: Task, what: str, extra: dict[str, Any] | None) -> Outcome:
    """Run once for the batch: the hosts meet at the task, the first decides and acts for all."""
    sync = runner.pctx.sync
    generation, released = sync.wait(runner.host.name, task.uid)
    if sync.aborted:
        return "ended"
    _, acted = sync.run_once(runner.host.name, task.uid, generation, released,
                             lambda: _act_for_batch(runner, task, what, extra))
    if not acted:
        return "ok"
    return "ended" if what in ("end_play", "end_batch") else "ok"


def _act_for_batch(runner: MetaHost, task: Task, what: str, extra: dict[str, Any] | None) -> bool:
    if what != "refresh_inventory" and not _holds(runner, task, extra):
        _skipped(runner, what)
        return False
    run, pctx = runner.run, runner.pctx
    if what == "end_play":
        pctx.sync.abort(f"{END_PLAY} on {runner.host.name}")
    elif what == "end_batch":
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
