"""Plays phase: the playbook's plays in order (each one host-parallel, see execute.sync).

First each host reads the probes of all its plays' tasks in one round trip (execute.lookahead).
Its dry-run form is the same run with check mode on (modules report and never act)."""

from __future__ import annotations

from kprov.provision.execute.context import RunContext
from kprov.provision.execute.lookahead import read_plays_ahead
from kprov.provision.execute.play_runner import PlayRunner
from kprov.provision.phases.base import for_each_host
from kprov.provision.playbook.model import Playbook

__all__ = ["PlaysPhase"]


class PlaysPhase:
    always = False

    def __init__(self, playbook: Playbook) -> None:
        self.playbook = playbook
        self.title = f"Plays of {playbook.path.name}"

    def should_run(self, run: RunContext) -> bool:
        return bool(self.playbook.plays)

    def run(self, run: RunContext) -> None:
        plays = self.playbook.plays
        ready = [h for h, state in run.hosts.items() if state.alive and state.connector is not None]
        for_each_host(run, ready, lambda h: read_plays_ahead(run, plays, h))
        for play in plays:
            if not PlayRunner(run, play).execute():
                break

    def dry_run(self, run: RunContext) -> None:
        run.options.check = True
        self.run(run)

    def cleanup(self, run: RunContext) -> None:
        return None
