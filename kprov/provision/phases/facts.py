"""Gather-facts phase: the ansible_facts of every reachable targeted host, one round trip each,
all hosts in parallel, cached for the whole run (plays that say ``gather_facts: false`` for
every host skip it)."""

from __future__ import annotations

import time

from kprov.provision.connect.base import UnreachableError
from kprov.provision.execute.context import RunContext
from kprov.provision.facts import gather_facts
from kprov.provision.phases.base import for_each_host, record_host_lost

__all__ = ["GatherFactsPhase", "gather_host"]


def gather_host(run: RunContext, host: str) -> None:
    """Gather ``host``'s facts into its state (or record it unreachable/failed)."""
    state = run.hosts[host]
    assert state.connector is not None
    start = time.monotonic()
    try:
        state.facts = gather_facts(state.connector)
        return
    except UnreachableError as err:
        state.unreachable, state.error = True, str(err)
    except Exception as err:  # noqa: BLE001 - a host whose facts fail is a failed host, not a crash
        state.failed, state.error = True, f"gathering facts: {type(err).__name__}: {err}"
    record_host_lost(run, host, "Gathering Facts", "gather_facts", start)


class GatherFactsPhase:
    title = "Gather facts"
    always = False

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets

    def should_run(self, run: RunContext) -> bool:
        return bool(self.targets)

    def run(self, run: RunContext) -> None:
        alive = [h for h in self.targets if run.hosts[h].alive and run.hosts[h].connector is not None]
        for_each_host(run, alive, lambda h: gather_host(run, h))

    dry_run = run

    def cleanup(self, run: RunContext) -> None:
        return None
