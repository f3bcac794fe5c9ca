"""Resolve phase: after preflight, before the first play, every host's tasks are templated
for it (execute.resolve); an undefined variable anywhere stops every host before its first
task, reported per host as a failed ``resolve: undefined variable`` result naming the file
and line that uses it. Turned on by ``RunOptions.resolve_first`` (kprov's cluster playbook;
an Ansible playbook run through kprov keeps Ansible's behaviour: the task fails when it runs).
"""

from __future__ import annotations

import threading
import time

from kprov.provision.execute.context import RunContext
from kprov.provision.execute.resolve import Unresolved, unresolved
from kprov.provision.execute.results import TaskResult
from kprov.provision.phases.base import for_each_host
from kprov.provision.playbook.model import Playbook

__all__ = ["ResolvePhase"]


class ResolvePhase:
    title = "Resolve"
    always = False

    def __init__(self, playbook: Playbook) -> None:
        self.playbook = playbook
        self.found: list[Unresolved] = []
        self.seconds = 0.0
        self._lock = threading.Lock()

    def should_run(self, run: RunContext) -> bool:
        return bool(self.playbook.plays) and any(s.alive for s in run.hosts.values())

    def run(self, run: RunContext) -> None:
        start = time.monotonic()
        hosts = [h for h, s in run.hosts.items() if s.alive]
        for_each_host(run, hosts, lambda h: self._resolve(run, h))
        self.seconds = time.monotonic() - start
        run.log.event("-", f"resolve: {len(self.found)} undefined variable(s) in {self.seconds:.3f}s")
        self._report(run, hosts)

    dry_run = run

    def cleanup(self, run: RunContext) -> None:
        return None

    def _resolve(self, run: RunContext, host: str) -> None:
        found = unresolved(run, self.playbook.plays, host)
        with self._lock:
            self.found += found

    def _report(self, run: RunContext, hosts: list[str]) -> None:
        order = {h: i for i, h in enumerate(run.hosts)}
        for problem in sorted(self.found, key=lambda p: order.get(p.host, 0)):
            result = TaskResult(host=problem.host, task="resolve: undefined variable", action="resolve",
                                status="failed", msg=problem.message)
            run.report.record(result)
            run.observer.task_done(result)
        if not self.found:
            return
        for host in hosts:
            state = run.hosts[host]
            state.failed = True
            state.error = state.error or "undefined variables (on this or another host)"
        where = sorted({f"{p.origin} ('{p.variable}')" for p in self.found})
        run.report.errors.append(f"undefined variables in {', '.join(where)}: nothing was changed")
