"""Plays phase: the playbook's plays in order (each one host-parallel, see execute.sync).

The run-wide look-ahead of every host's probes (execute.lookahead) happens before, in the
open phase; each play reads ahead what is not covered yet (execute.host_runner).
Its dry-run form is the same run with check mode on (modules report and never act)."""

from __future__ import annotations

from kprov.provision.execute.context import RunContext
from kprov.provision.execute.play_runner import PlayRunner
from kprov.provision.playbook.model import Playbook

__all__ = ["PlaysPhase"]


class PlaysPhase:
    always = False

    def __init__(self, playbook: Playbook) -> None:
        self.playbook = playbook
        self.title = f"Plays of {playbook.path.name}"

    def should_run(self, run: RunContext) -> bool:
        # not when no host is left (a preflight that stopped them all, every host unreachable)
        return bool(self.playbook.plays) and any(s.alive for s in run.hosts.values())

    def run(self, run: RunContext) -> None:
        run.observer.playbook(str(self.playbook.path), len(self.playbook.plays))
        for play in self.playbook.plays:
            if not PlayRunner(run, play).execute():
                break

    def dry_run(self, run: RunContext) -> None:
        run.options.check = True
        self.run(run)

    def cleanup(self, run: RunContext) -> None:
        return None
