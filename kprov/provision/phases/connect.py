"""Connect phase: one persistent, logged session per targeted host, all hosts in parallel.

A host that cannot be reached is marked unreachable (an UNREACHABLE result in the recap);
the others go on. Connection variables (``ansible_host``, ``ansible_user`` ...) are
templated first in the host's play-level scope, so they may use ``{{ }}``
(:mod:`kprov.provision.connect.reach`, the one way every path reaches a host).
"""

from __future__ import annotations

import time
from typing import Any

from kprov.provision.connect.base import ConnectionFailure
from kprov.provision.connect.reach import connection_vars as rendered_connection_vars
from kprov.provision.connect.reach import reach
from kprov.provision.execute.context import HostState, RunContext
from kprov.provision.execute.runlog import LoggedConnector
from kprov.provision.execute.variables import host_scope
from kprov.provision.phases.base import for_each_host, record_host_lost
from kprov.provision.templates import TemplateError

__all__ = ["ConnectPhase", "DisconnectPhase", "connect_host", "connection_vars"]


def connection_vars(run: RunContext, host: str) -> dict[str, Any]:
    """The host's connection variables, templated, over the plays' connection keywords."""
    state = run.hosts[host]
    return rendered_connection_vars(host, _variables(run, state), host_scope(run, None, state).template)


def _variables(run: RunContext, state: HostState) -> dict[str, Any]:
    """The plays' connection keywords under the inventory's variables, under the extra vars
    (``-e ansible_connection=local`` wins over the inventory, as in ansible-core)."""
    extra = {k: v for k, v in run.options.extra_vars.items() if k.startswith("ansible_")}
    return {**state.connection_keywords, **state.inventory_vars, **extra}


def connect_host(run: RunContext, host: str, *, defer: bool = False) -> bool:
    """Open ``host``'s logged session (True), or record it unreachable/failed (False).
    ``defer``: a host that cannot be reached is not unreachable yet, only its first task that
    needs the session finds it so (HostState.connect_error)."""
    state = run.hosts[host]
    start = time.monotonic()
    try:
        settings = reach(host, _variables(run, state), host_scope(run, None, state).template)
        conn = LoggedConnector(settings, run.log)
        conn.connect()
        state.connector = conn
        return True
    except ConnectionFailure as err:
        if defer:
            state.connect_error = str(err)
            run.log.event(host, f"not connected ({err}): unreachable at its first task that needs the host")
            return False
        state.unreachable, state.error = True, str(err)
    except (ValueError, TemplateError) as err:  # bad connection settings: this host fails
        state.failed, state.error = True, f"connection settings: {err}"
    record_host_lost(run, host, "connect", "connect", start)
    return False


class ConnectPhase:
    title = "Connect"
    always = False

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets

    def should_run(self, run: RunContext) -> bool:
        return bool(self.targets)

    def run(self, run: RunContext) -> None:
        for host in self.targets:
            run.report.add_host(host)
        for_each_host(run, self.targets, lambda h: connect_host(run, h))

    dry_run = run

    def cleanup(self, run: RunContext) -> None:
        DisconnectPhase().run(run)


class DisconnectPhase:
    title = "Disconnect"
    always = True

    def should_run(self, run: RunContext) -> bool:
        return True

    def run(self, run: RunContext) -> None:
        for state in run.hosts.values():
            if state.connector is not None:
                try:
                    state.connector.close()
                finally:
                    state.connector = None
        if run.local_connector is not None:
            run.local_connector.close()
            run.local_connector = None

    dry_run = run

    def cleanup(self, run: RunContext) -> None:
        return None
