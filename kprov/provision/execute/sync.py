"""Host threads of one batch: a fork limit, sync points, run_once and batch-wide abort.

Strategy (documented choice): hosts run *free* — each host goes through its own task list as
fast as it can — except at **sync points**, where a host waits until every other live host
of the batch is either finished or also waiting at a sync point (a quiescence barrier, which
cannot deadlock even when hosts' task lists differ). A task is a sync point when it is
``run_once``, when its text (or its template file) mentions ``hostvars`` (so facts set by
other hosts earlier in the play are there) or the play's live host lists
(``ansible_play_hosts``, ``ansible_play_batch``, ``play_hosts``: so a host that failed
earlier in the play is already out of them, as under the linear strategy), and for every
task of a play with ``any_errors_fatal`` or ``max_fail_percentage`` (those plays run in
lockstep, like Ansible's linear strategy).

``any_errors_fatal`` as ansible-core 2.18's linear strategy applies it: after each task the
hosts meet again (HostRunner settles there); when a host failed that task, every other live
host of the batch is *forced* to fail where it stands -- into the rescue or always of the
block around its last task, or out of the play -- without a failure of its own in the recap
(the strategy marks them failed in its iterator only). A host failing in its own rescue is
met in the same way, so a rescue that runs on every host fails every host in turn.

At most ``forks`` hosts run at once; a host waiting at a sync point gives its slot away.
``run_once``: of the hosts released together at that task, the first in batch order runs it
and the others take its result; its ``register`` and set_fact facts reach every host of the
batch but the unreachable (``share_once``). A run_once include runs on the first host only,
the others waiting outside the barrier until it is done.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kprov.provision.errors import ProvisionError
from kprov.provision.playbook.model import Play, Task
from kprov.provision.template_filters import to_bool

if TYPE_CHECKING:
    from kprov.provision.execute.context import HostState

__all__ = ["READS_OTHER_HOSTS", "RUN_ERROR", "BatchSync", "is_sync_point", "run_once_here", "share_once"]

# text that reads other hosts' state: a task holding it is a sync point (``hostvars``
# anywhere, as before; the live host lists as words: ``ansible_play_hosts_all`` never changes)
READS_OTHER_HOSTS = re.compile(r"hostvars|\b(?:ansible_play_hosts|ansible_play_batch|play_hosts)\b")

# an abort reason that is an error of the whole run (the playbook stops), reported as it is
# worded after this prefix, not as the play's abort (ansible-core raises such errors)
RUN_ERROR = "run error: "


def is_sync_point(task: Task, play: Play, find_file: Callable[[Task, str, str], Path]) -> bool:
    """Whether hosts meet at ``task`` (see above). ``find_file``: a template's source file."""
    text = repr((task.args, task.when, task.loop, task.vars, task.changed_when, task.failed_when))
    return bool(task.run_once or play.any_errors_fatal or play.max_fail_percentage is not None
                or READS_OTHER_HOSTS.search(text) is not None
                or READS_OTHER_HOSTS.search(_template_source(task, find_file)) is not None)


def run_once_here(task: Task, scope: Callable[[], Any]) -> bool:
    """The task's ``run_once`` for this host: a templated one rendered in its ``scope()`` (as
    the linear strategy templates it with the host's variables; one that does not render:
    false)."""
    if not isinstance(task.run_once, str):
        return task.run_once
    try:
        value = scope().template(task.run_once, f"task field 'run_once' ({task.origin})")
    except ProvisionError:
        return False
    return to_bool(value)


def share_once(task: Task, result: Mapping[str, Any], ran: str, hosts: Iterable[HostState]) -> None:
    """A run_once task's registered result and set_fact facts, given to every host of the play
    but the unreachable (ansible-core's ``get_task_hosts``): those released with the host that
    ran it, and those elsewhere in the play too (a run_once task in an include that only the
    first host loaded). Called by the host that ran it while the others wait (a sync point)."""
    facts = (result.get("ansible_facts") or {}) if task.action == "set_fact" else {}
    for state in hosts:
        if state.name == ran or state.unreachable:
            continue
        if task.register:
            state.registered.add(task.register)
            state.runtime_vars[task.register] = result
        state.runtime_vars.update(facts)


def _template_source(task: Task, find_file: Callable[[Task, str, str], Path]) -> str:
    """The text of a template task's source file, when its name is literal."""
    src = task.args.get("src")
    if not task.action.endswith("template") or not isinstance(src, str) or "{{" in src:
        return ""
    try:
        return find_file(task, src, "templates").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


@dataclass
class _OnceSlot:
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    aside: set[str] = field(default_factory=set)  # hosts out of the barrier until it is done


class BatchSync:
    def __init__(self, hosts: list[str], forks: int, max_fail_percentage: float | None = None) -> None:
        self.hosts = list(hosts)
        self._slots = threading.Semaphore(max(1, forks))
        self._cond = threading.Condition()
        self._live = set(hosts)
        self._waiting: dict[str, int] = {}  # host -> task uid it waits at
        self._generation = 0
        self._released: dict[int, dict[int, list[str]]] = {}  # generation -> uid -> hosts
        self._once: dict[tuple[int, int], _OnceSlot] = {}
        self._failed: set[str] = set()
        self.max_fail_percentage = max_fail_percentage
        self.abort_reason = ""
        self._fatal_round: set[str] = set()  # hosts that failed fatally since the last release
        self._forced: set[str] = set()  # hosts to fail where they stand (not yet taken)
        self.forced_hosts: set[str] = set()  # every host forced in this batch
        self.fatal_reason = ""  # the first fatal failure: ``any_errors_fatal: <host> failed``

    # -- thread life -----------------------------------------------------------------------
    def start(self) -> None:
        self._slots.acquire()

    def finish(self, host: str) -> None:
        with self._cond:
            self._live.discard(host)
            self._maybe_release()
        self._slots.release()

    # -- failures and abort ----------------------------------------------------------------
    def failed(self, host: str, fatal: bool) -> None:
        with self._cond:
            self._failed.add(host)
            if fatal:
                self._fatal_round.add(host)
                self.fatal_reason = self.fatal_reason or f"any_errors_fatal: {host} failed"

    def take_forced(self, host: str) -> bool:
        """Whether another host's fatal failure forces ``host`` to fail (once: it is taken)."""
        with self._cond:
            if host not in self._forced:
                return False
            self._forced.discard(host)
            return True

    def abort(self, reason: str) -> None:
        with self._cond:
            self.abort_reason = self.abort_reason or reason

    @property
    def aborted(self) -> bool:
        return bool(self.abort_reason)

    # -- sync points -----------------------------------------------------------------------
    def wait(self, host: str, uid: int) -> tuple[int, list[str]]:
        """Block until the batch is quiescent; returns (generation, hosts released at ``uid``)."""
        self._slots.release()
        try:
            with self._cond:
                self._waiting[host] = uid
                generation = self._generation
                self._maybe_release()
                while self._generation == generation:
                    self._cond.wait()
                return generation, self._released[generation].get(uid, [host])
        finally:
            self._slots.acquire()

    def _maybe_release(self) -> None:
        if not self._waiting or any(h not in self._waiting for h in self._live):
            return
        by_uid: dict[int, list[str]] = {}
        for h in self.hosts:
            if h in self._waiting:
                by_uid.setdefault(self._waiting[h], []).append(h)
        self._released[self._generation] = by_uid
        self._released.pop(self._generation - 2, None)
        if self._fatal_round:  # every host waits here: the others of a fatal failure are forced
            forced = self._live - self._fatal_round
            self._forced |= forced
            self.forced_hosts |= forced
            self._fatal_round.clear()
        if self.max_fail_percentage is not None and self.hosts:
            pct = 100.0 * len(self._failed) / len(self.hosts)
            if pct > float(self.max_fail_percentage) and not self.abort_reason:
                self.abort_reason = (
                    f"max_fail_percentage {self.max_fail_percentage}% exceeded ({pct:.0f}% failed)"
                )
        self._waiting.clear()
        self._generation += 1
        self._cond.notify_all()

    def run_once(
        self, host: str, uid: int, generation: int, released: list[str], action: Callable[[], Any],
        aside: bool = False,
    ) -> tuple[bool, Any]:
        """Run ``action`` on the first released host; others get its value. Returns (ran_here, value).
        ``aside``: the others leave the batch's barrier while they wait (a run_once include: the
        first host meets sync points inside it, which must not wait for them); they are back in
        it before the first host goes on, so its next sync point waits for them again."""
        with self._cond:
            slot = self._once.setdefault((generation, uid), _OnceSlot())
        if host == released[0]:
            try:
                slot.value = action()
            finally:
                with self._cond:
                    self._live |= slot.aside
                    slot.aside.clear()
                    slot.done.set()
            return True, slot.value
        # Waiting for the first host must not hold a fork slot: with fewer forks than hosts,
        # the first host may itself be waiting for a slot to run the action.
        self._slots.release()
        if aside:
            with self._cond:
                if not slot.done.is_set() and host in self._live:
                    self._live.discard(host)
                    slot.aside.add(host)
                    self._maybe_release()
        try:
            slot.done.wait()
        finally:
            self._slots.acquire()
        return False, slot.value
