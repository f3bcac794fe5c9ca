"""Execution: run a host's plan, handlers, parallelism, results and the run report.

Strategy (the decision, in short; details in :mod:`kprov.provision.execute.sync`): one thread
per host (at most ``--forks`` running), each host runs through its own task list *freely*,
except at sync points — ``run_once`` tasks, tasks whose text or template file reads
``hostvars``, and every task of plays with ``any_errors_fatal`` / ``max_fail_percentage`` —
where it waits until every other host of the batch has finished or reached a sync point.
``serial`` batches run one after another. Handlers run per host at each flush point
(end of pre_tasks, of roles+tasks, of post_tasks, and ``meta: flush_handlers``), each
notified handler once, in the order the handlers are defined (execute.handler_search).
"""

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
