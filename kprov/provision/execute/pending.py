"""Crash-safe handlers: a notified handler that has not run yet is recorded on the host.

Ansible keeps notifications in memory: a run interrupted (or lost) between a change and
its handler forgets the handler, and the rerun, finding nothing to change, never restarts
the component: it runs stale code or configuration while every report says ok. A host that
failed on a task forgets this run's notifications as ansible-core does (host_runner removes
their markers again): the rerun runs no handler ansible-playbook would not.
Here a changed task's notifications are written to the host at once (one command, only on
change: a no-op run pays nothing), one file per handler name under :data:`PENDING_DIR`
(content: the name); the facts script reads them back (``kprov_pending_handlers``), a play
whose handlers answer to a pending name queues it at its start, and a handler that ran
clears its file. A marker may say why after a tab (``<name>\t<why>``): the run report shows
it on the handler's result, so a restart says which change caused it. Anything else may
write such a file before a change the playbook cannot notify for (kprov's runtime switch
writes those of the components' restart handlers), and ``kprov verify`` reports a host
with pending ones.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from kprov.provision.execute.handler_search import search

if TYPE_CHECKING:
    from kprov.provision.execute.context import HostState, PlayContext, RunContext
    from kprov.provision.execute.results import TaskResult
    from kprov.provision.playbook.model import Task

__all__ = [
    "PENDING_DIR", "clear_command", "clear_pending", "file_name", "forget_failed_host",
    "forget_this_runs_marks", "mark_command", "mark_pending", "queue_pending", "read_command",
]

PENDING_DIR = "/var/lib/kprov/pending-handlers"


def file_name(handler: str) -> str:
    """The marker's file name for a handler name (the name itself is the file's content)."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", handler)


def mark_command(names: Iterable[str], why: dict[str, str] | None = None) -> str:
    d = shlex.quote(PENDING_DIR)
    reasons = why or {}
    writes = " && ".join(
        f"printf '%s\\t%s\\n' {shlex.quote(n)} {shlex.quote(_one_line(reasons.get(n, '')))}"
        f" > {d}/{shlex.quote(file_name(n))}"
        for n in names
    )
    return f"mkdir -p {d} && chmod 0755 {d} && {writes}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def clear_command(names: Iterable[str]) -> str:
    d = PENDING_DIR
    return "rm -f -- " + " ".join(shlex.quote(f"{d}/{file_name(n)}") for n in names)


def read_command() -> str:
    """Shell (for the facts script, which defines ``_rd``) printing every pending name."""
    return f'for f in {PENDING_DIR}/*; do [ -f "$f" ] && _rd "$f"; done'


def forget_this_runs_marks(host: HostState, *, check: bool) -> None:
    """A host that failed on a task: the markers this run wrote go, as ansible-core forgets a
    failed host's notifications (its handlers do not run, nothing carries them into the next
    run); an interrupted run, an unreachable host and an earlier run's markers keep theirs
    (the crash-safety the markers are for)."""
    pending = host.pending()
    ours = sorted(pending - set(host.facts.get("kprov_pending_handlers") or ()))
    if not ours or check or host.connector is None or host.unreachable:
        return
    if host.connector.run(clear_command(ours), become=True).rc == 0:
        pending.difference_update(ours)


def forget_failed_host(pctx: PlayContext, host: HostState, *, check: bool) -> None:
    """What a host that failed on a task forgets, in one place: the play's notifications of it
    (which handlers, and why), then the markers this run wrote on it."""
    pctx.notified.pop(host.name, None)
    pctx.why.pop(host.name, None)
    forget_this_runs_marks(host, check=check)


def queue_pending(run: RunContext, pctx: PlayContext, host: HostState, handlers: list[Task],
                  name_of: Callable[[Task], str | None]) -> None:
    """Handlers an earlier run notified but never ran, queued again (host_runner does it once per
    play, at the first flush that follows a task of the play: where this run's own
    notifications of them would run), if the play has a handler they name."""
    queue = pctx.notified.setdefault(host.name, [])
    why = pctx.why.setdefault(host.name, {})
    earlier = set(host.facts.get("kprov_pending_handlers") or ())  # not this run's marks
    for name in sorted(host.pending()):
        if not search(name, handlers, name_of):
            continue
        reason = host.pending_reason(name)
        if name in earlier and reason not in why.setdefault(name, []):
            why[name].append(reason)
        if name not in queue:
            queue.append(name)
            run.log.event(host.name, f"handler '{name}' is pending from an earlier run")


def mark_pending(run: RunContext, pctx: PlayContext, host: HostState, names: list[str]) -> None:
    """Record on the host that these handlers are due (before anything else can go wrong)."""
    pending = host.pending()
    new = [n for n in names if n not in pending]
    if not new or run.options.check or host.connector is None or not host.tracks_handlers:
        return
    why = pctx.why.get(host.name, {})
    reasons = {n: "; ".join(why.get(n, [])) for n in new}
    result = host.connector.run(mark_command(new, reasons), become=True)
    if result.rc == 0:
        pending.update(new)
    else:
        run.log.event(host.name, f"cannot record pending handlers: {result.stderr.strip()}")


def clear_pending(run: RunContext, host: HostState, name: str) -> None:
    """A notification whose handlers all ran: its marker goes."""
    pending = host.pending()
    if name not in pending or run.options.check or host.connector is None:
        return
    if host.connector.run(clear_command([name]), become=True).rc == 0:
        pending.discard(name)


def notify_reason(title: str, result: TaskResult) -> str:
    """Why a changed task notified its handlers: its title and the file or unit it changed."""
    from kprov.provision.execute.task.report import loop_results  # facts/ imports this module

    data = result.result
    changed = [data] + [r for r in loop_results(data) if r.get("changed")]
    what = []
    for item in changed:
        for key in ("dest", "path"):
            value = item.get(key)
            if isinstance(value, str) and value and value not in title and value not in what:
                what.append(value)
                break
    if result.action in ("debug", "ansible.builtin.debug") and result.msg:
        what.append(result.msg)  # a task that exists to notify says why in its message
    return f"{title} ({', '.join(what)})" if what else title
