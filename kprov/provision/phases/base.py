"""The phase interface and the phase manager.

A run is a list of phases (connect, gather facts, plays, disconnect, ...). Each has a title,
a ``should_run`` test, a ``run`` and a ``dry_run`` form (used by ``--check``/``plan``; for
phases that only read, the same as ``run``) and a ``cleanup`` called, in reverse order, for
the phases already run when a later one raises. Phases marked ``always`` (disconnect) run
even after a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from kprov.provision.execute.context import RunContext
from kprov.provision.execute.results import TaskResult

__all__ = ["Phase", "PhaseManager", "for_each_host", "record_host_lost"]

T = TypeVar("T")


class Phase(Protocol):
    title: str
    always: bool

    def should_run(self, run: RunContext) -> bool: ...
    def run(self, run: RunContext) -> None: ...
    def dry_run(self, run: RunContext) -> None: ...
    def cleanup(self, run: RunContext) -> None: ...


class PhaseManager:
    def __init__(self, phases: list[Phase], *, dry_run: bool = False) -> None:
        self.phases = phases
        self.dry_run = dry_run

    def titles(self) -> list[str]:
        return [p.title for p in self.phases]

    def execute(self, run: RunContext) -> None:
        done: list[Phase] = []
        failure: BaseException | None = None
        for phase in self.phases:
            if failure is not None and not phase.always:
                continue
            if not phase.should_run(run):
                continue
            run.observer.phase(phase.title)
            run.log.event("-", f"phase: {phase.title}{' (dry run)' if self.dry_run else ''}")
            try:
                (phase.dry_run if self.dry_run else phase.run)(run)
                done.append(phase)
            except BaseException as err:  # noqa: BLE001 - cleaned up and re-raised below
                failure = failure or err
                for finished in reversed(done):
                    finished.cleanup(run)
                done.clear()
        if failure is not None:
            raise failure


def for_each_host(run: RunContext, hosts: Iterable[str], action: Callable[[str], object]) -> None:
    """Run ``action(host)`` for every host, ``--forks`` at a time."""
    names = list(hosts)
    if not names:
        return
    with ThreadPoolExecutor(
        max_workers=max(1, min(run.options.forks, len(names))), thread_name_prefix="kprov-phase"
    ) as pool:
        for future in [pool.submit(action, h) for h in names]:
            future.result()


def record_host_lost(run: RunContext, host: str, task: str, action: str, started: float) -> None:
    """Report that ``host`` became unreachable or failed in a phase (its state says which and why)."""
    state = run.hosts[host]
    result = TaskResult(
        host=host,
        task=task,
        action=action,
        status="unreachable" if state.unreachable else "failed",
        msg=state.error,
        duration_s=round(time.monotonic() - started, 3),
    )
    run.report.record(result)
    run.observer.task_done(result)
