"""Gathering facts: a connected host's ansible_facts in one round trip, cached for the whole
run. The open phase (phases.open) calls it for each host as soon as that host is connected,
for hosts that some play gathers facts for. The facts are unsafe data (template_unsafe): a
template that reads one gives text never rendered again, as under ansible-core."""

from __future__ import annotations

import time

from kprov.provision.connect.base import UnreachableError
from kprov.provision.execute.context import RunContext
from kprov.provision.facts import gather_facts
from kprov.provision.phases.base import record_host_lost
from kprov.provision.template_unsafe import wrap_unsafe

__all__ = ["gather_host"]


def gather_host(run: RunContext, host: str) -> None:
    """Gather ``host``'s facts into its state (or record it unreachable/failed)."""
    state = run.hosts[host]
    assert state.connector is not None
    start = time.monotonic()
    try:
        # with the setup module's own markers, as a play's fact gathering reports them
        # unsafe data, as ansible-core's executor wraps the setup module's facts
        state.facts = wrap_unsafe({**gather_facts(state.connector), "gather_subset": ["all"],
                                   "module_setup": True})
        return
    except UnreachableError as err:
        state.unreachable, state.error = True, str(err)
    except Exception as err:  # noqa: BLE001 - a host whose facts fail is a failed host, not a crash
        state.failed, state.error = True, f"gathering facts: {type(err).__name__}: {err}"
    record_host_lost(run, host, "Gathering Facts", "gather_facts", start)
