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
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kprov.provision.execute.context import HostState

__all__ = [
    "PENDING_DIR", "clear_command", "file_name", "forget_this_runs_marks", "mark_command", "read_command",
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
