"""Run one play over its hosts: serial batches, one thread per host, fork limit, handlers.

Hosts that failed or were unreachable earlier in the run are left out (as in Ansible). As in
ansible-core's PlaybookExecutor, a batch whose hosts all failed ends the play *and the
playbook* (later batches and plays do not start: with ``serial: 1`` a failed host stops a
rolling change before the next host is touched); ``any_errors_fatal`` fails the batch's other
hosts where they stand (execute.sync: their rescues and always run; those it left failed fail
the run), an abort from ``max_fail_percentage`` (failed hosts of the batch over the batch's
size, exceeded, checked after each task) ends the play and the playbook, ``meta: end_play``
only the play, ``meta: end_batch`` only the batch (the next one starts), and an interrupt
(execute.interrupt) the playbook. ``serial`` and ``max_fail_percentage`` are templated with
the extra vars and the play's vars (what Ansible's play post-validation sees), so an
operator can set the rolling batch size per run (``-e``).

A host that ``add_host`` added during the run has no session when a play first targets it:
the play connects it (with the play's ``remote_user``/``connection`` beneath its own
variables) and gathers its facts if the play asks for them, all such hosts at once, before
its first task; one that cannot be reached is left out, unreachable in the recap, unless the
play gathers no facts: then, as a host the run could not connect at its start, it stays in
the play until a task needs its session (phases.connect ``defer``).
"""

from __future__ import annotations

import threading
from typing import Any

from kprov.provision.execute.context import PlayContext, RunContext
from kprov.provision.execute.host_runner import HostRunner
from kprov.provision.execute.meta import END_BATCH, END_PLAY
from kprov.provision.execute.sync import RUN_ERROR, BatchSync
from kprov.provision.inventory.patterns import select_hosts
from kprov.provision.playbook.model import Play

__all__ = ["CONNECTION_KEYWORDS", "PlayRunner", "batches"]

# a play keyword and the host variable it stands beneath (Ansible: the variable wins)
CONNECTION_KEYWORDS = (("remote_user", "ansible_user"), ("connection", "ansible_connection"))


def batches(hosts: list[str], serial: Any) -> list[list[str]]:
    """Split hosts per ``serial`` (a count, a percentage, or a list of them; last size repeats)."""
    if not serial or not hosts:
        return [hosts] if hosts else []
    sizes = serial if isinstance(serial, list) else [serial]
    out: list[list[str]] = []
    rest = list(hosts)
    index = 0
    while rest:
        spec = str(sizes[min(index, len(sizes) - 1)]).strip()
        if spec.endswith("%"):  # ansible's pct_to_int: at least one host
            size = max(1, int(len(hosts) * float(spec[:-1]) / 100))
        else:
            size = int(spec)
            if size <= 0:  # 0 or less: every host left, as Ansible
                size = len(rest)
        out.append(rest[:size])
        rest = rest[size:]
        index += 1
    return out


class PlayRunner:
    def __init__(self, run: RunContext, play: Play) -> None:
        self.run, self.play = run, play

    def hosts(self) -> list[str]:
        """The play's live hosts. ``--limit`` is evaluated again for each play, as Ansible's
        inventory subset is: a host add_host (or group_by) placed since is in or out by it."""
        wanted = select_hosts(self.run.inventory, self.play.hosts)
        if self.run.options.limit:
            allowed = set(select_hosts(self.run.inventory, self.run.options.limit))
            wanted = [h for h in wanted if h in allowed]
        return [h for h in wanted if h in self.run.hosts and self.run.hosts[h].alive]

    def execute(self) -> bool:
        """Run the play; False when it was aborted (the playbook stops)."""
        hosts = self.hosts()
        states = self.run.hosts
        added = [h for h in hosts if states[h].connector is None and not states[h].connect_error]
        if added:
            self._open_added(added)
            hosts = self.hosts()
        self.run.observer.play(self.play.name, hosts)
        if not hosts:
            return True
        serial, max_fail = self._templated(self.play.serial), self._templated(self.play.max_fail_percentage)
        planned = batches(hosts, serial)
        ended: set[str] = set()  # the play's, across its batches (ansible-core's play._removed_hosts)
        for number, batch in enumerate(planned):
            sync = BatchSync(batch, self.run.options.forks, None if max_fail is None else float(max_fail))
            pctx = PlayContext(play=self.play, hosts=hosts, batch=batch, sync=sync, ended=ended)
            threads = [
                threading.Thread(target=self._host_thread, args=(pctx, h), name=f"kprov-{h}", daemon=True)
                for h in batch
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if self.run.interrupt.is_set():
                return False
            if sync.aborted:
                if sync.abort_reason.startswith(END_BATCH):
                    continue  # ``meta: end_batch``: the next batch starts
                if sync.abort_reason.startswith(RUN_ERROR):
                    self.run.report.errors.append(sync.abort_reason.removeprefix(RUN_ERROR))
                    self.run.report.raised = True
                    return False
                if not sync.abort_reason.startswith(END_PLAY):
                    self.run.report.errors.append(f"play '{self.play.name}' aborted: {sync.abort_reason}")
                    return False
                return True
            if any(not self.run.hosts[h].alive for h in sync.forced_hosts):
                # hosts another host's failure failed have none in the recap: the run fails here
                self.run.report.errors.append(f"play '{self.play.name}' aborted: {sync.fatal_reason}")
            if all(not self.run.hosts[h].alive for h in batch):
                left = [h for later in planned[number + 1:] for h in later]
                if left:
                    self.run.report.errors.append(
                        f"play '{self.play.name}': every host of a batch failed; "
                        f"not started on {', '.join(left)}"
                    )
                return False
        return True

    def _open_added(self, added: list[str]) -> None:
        from kprov.provision.phases.base import for_each_host  # phases drive plays: import late
        from kprov.provision.phases.connect import connect_host
        from kprov.provision.phases.facts import gather_host

        def open_host(host: str) -> None:
            state = self.run.hosts[host]
            self.run.report.add_host(host)
            for keyword, variable in CONNECTION_KEYWORDS:
                value = getattr(self.play, keyword)
                if value is not None and variable not in state.inventory_vars:
                    state.connection_keywords[variable] = value
            if connect_host(self.run, host, defer=not self.play.gather_facts) and self.play.gather_facts:
                gather_host(self.run, host)

        for_each_host(self.run, added, open_host)

    def _templated(self, value: Any) -> Any:
        if not isinstance(value, str) or "{" not in value:
            return value
        scope = self.run.engine.scope([(self.run.options.extra_vars, True), (self.play.vars, True)])
        rendered = scope.template(value, f"play '{self.play.name}' keyword")
        if isinstance(rendered, str) and rendered.strip().lstrip("-").isdigit():
            return int(rendered)
        return rendered

    def _host_thread(self, pctx: PlayContext, host: str) -> None:
        pctx.sync.start()
        try:
            HostRunner(self.run, pctx, self.run.hosts[host]).run_play()
        except Exception as err:  # an engine bug must not hang the other hosts
            state = self.run.hosts[host]
            state.failed = True
            state.error = f"internal error: {type(err).__name__}: {err}"
            self.run.report.errors.append(f"{host}: {state.error}")
        finally:
            pctx.sync.finish(host)
