"""Plays phase: the playbook's plays in order (each one host-parallel, see execute.sync).

As each host starts its first play, it reads the probes of all its plays' tasks in one round
trip (execute.lookahead), in its own thread (no barrier of its own).
Its dry-run form is the same run with check mode on (modules report and never act)."""

from __future__ import annotations

import threading

from kprov.provision.execute.context import RunContext
from kprov.provision.execute.lookahead import read_plays_ahead
from kprov.provision.execute.play_runner import PlayRunner
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
        started: set[str] = set()
        lock = threading.Lock()

        def read_ahead(index: int, host: str) -> None:
            with lock:
                first = host not in started
                started.add(host)
            if first:
                read_plays_ahead(run, plays[index:], host)

        for index, play in enumerate(plays):
            if not PlayRunner(run, play, lambda host, i=index: read_ahead(i, host)).execute():
                break

    def dry_run(self, run: RunContext) -> None:
        run.options.check = True
        self.run(run)

    def cleanup(self, run: RunContext) -> None:
        return None
