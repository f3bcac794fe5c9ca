"""Execution: run a host's plan, handlers, parallelism, results and the run report."""

from kprov.provision.execute.context import HostState, PlayContext, RunContext, RunOptions
from kprov.provision.execute.results import HostStats, NullObserver, RunObserver, RunReport, TaskResult

__all__ = [
    "HostState",
    "HostStats",
    "NullObserver",
    "PlayContext",
    "RunContext",
    "RunObserver",
    "RunOptions",
    "RunReport",
    "TaskResult",
]
