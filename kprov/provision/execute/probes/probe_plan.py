"""Probe planning: which probes a task's module declares, reading them ahead, and dropping them.

A module declares the read-only probes it decides from (``Module.probes(params, view)``,
modules.contract). Before tasks run, the engine asks each predictable task's module for them
(``declared_keys``) and reads them for a host in one batch (``read_ahead``, execute.prefetch)
into the host's probe cache, where the module's ``ctx.probe`` finds them. A prediction that
turns out wrong (the task's variables changed in between) only costs a cache miss.

Which tasks are predictable (``predictable_module``): a module task on the host itself, not
async, and not a poll (``until``) unless the task is a query (``is_query``). After a task
that may have changed the host, ``settle`` drops the cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kprov.provision.connect.base import ConnectionFailure, UnreachableError
from kprov.provision.execute.context import HostState
from kprov.provision.execute.engine_actions.variables import ENGINE_RUNNERS
from kprov.provision.execute.probes.prefetch import prefetch
from kprov.provision.execute.probes.probecache import ProbeCache
from kprov.provision.modules.base import (
    Module,
    ModuleContext,
    ModuleResult,
    ProbeKey,
    UnknownModuleError,
)
from kprov.provision.modules.registry import get_module
from kprov.provision.playbook.model import Task

__all__ = ["ModuleCall", "declared_keys", "is_query", "predictable_module", "read_ahead", "settle"]

_ENGINE_ACTIONS = ("include_vars", "group_by", "add_host")


@dataclass
class ModuleCall:
    """One module run, as the probe cache's invalidation needs it (see ``settle``)."""

    result: ModuleResult
    cache: ProbeCache | None  # the cache of the host the module ran on (None: no host)
    acted: bool = False  # it sent a command or file that may change the host
    judged_by_task: bool = False  # command/shell: changed_when says whether it changed anything
    from_cache: bool = False  # its result came from the probe cache (nothing ran)
    reports_job: bool = False  # fire-and-forget: "changed" reports a job, the host changed if it acted


class _Judged(Protocol):
    @property
    def changes_judged_by_task(self) -> bool: ...


def is_query(task: Task, module: _Judged) -> bool:
    """A command task that declares its command read-only: ``changed_when: false`` with
    ``check_mode: false`` (Ansible's idiom for a command that only gathers information)
    or with ``until`` (a poll: a health check), without ``stdin``. Its command is a probe
    (``ModuleContext.query``): read ahead, and taken from the probe cache while no task
    changed the host; a poll takes only its first attempt from there (it counts: the
    command ran), and one that does not meet ``until`` is asked again live at once. A poll
    in a loop is not read ahead: an item's read-ahead that a settled cache dropped would be
    a run of the command that Ansible never makes."""
    return (module.changes_judged_by_task
            and (task.check_mode is False or (task.until is not None and task.loop is None))
            and task.changed_when is not None and len(task.changed_when) == 1
            and task.changed_when[0] is False
            and "stdin" not in task.args)


def predictable_module(task: Task, host: HostState) -> Module | None:
    """The module whose declared probes may be read ahead for ``task`` on ``host``, or None."""
    if (task.action in ENGINE_RUNNERS or task.action in _ENGINE_ACTIONS
            or task.delegate_to or task.async_seconds is not None or host.connector is None):
        return None
    try:
        module = get_module(task.action)
    except UnknownModuleError:
        return None
    if task.until is not None and not is_query(task, module):
        return None
    return module


def declared_keys(module: Module, ctx: ModuleContext, args: Mapping[str, Any]) -> list[ProbeKey]:
    """The probe cache keys of the probes ``module`` declares for ``args`` under ``ctx`` (its
    environment and become settings); none when its arguments are wrong (the task fails when
    it runs)."""
    try:
        commands = module.probes(module.params(args), ctx.view())
    except Exception:  # noqa: BLE001 - the real run reports it
        return []
    return [ctx.probe_key(command) for command in commands]


def read_ahead(host: HostState, keys: list[ProbeKey], covered: set[int], generation: int | None,
               log: Callable[[str], None]) -> None:
    """Read the probes ``host``'s cache lacks in one round trip into that cache, and mark the
    tasks ``covered`` (their probes were predicted at ``generation``). A lost host raises
    UnreachableError; a failed batch leaves the tasks to probe one by one."""
    cache = host.probes
    generation = cache.generation if generation is None else generation
    wanted = [k for k in dict.fromkeys(keys) if k not in cache]
    if len(wanted) < 2 or host.connector is None:
        cache.store_all({}, generation, covered)
        return
    sent = time.time()
    try:
        found = prefetch(host.connector, wanted, log)
    except UnreachableError:
        raise
    except ConnectionFailure:
        return  # the tasks probe one by one (and report the failure themselves)
    cache.store_all(found, generation, covered, window=(sent, time.time()))


def settle(call: ModuleCall, changed: bool, failed: bool, log: Callable[[str], None]) -> None:
    """Drop the probe cache of the host the module ran on, unless the run left it as it was.

    A command/shell run is judged by the task's verdict (``changed_when``); any other
    module by its own (changed/failed) and by whether it sent anything that may act, so a
    ``changed_when: false`` on a module that wrote a file still drops the cache. A
    fire-and-forget task by whether it acted: starting a job does, keeping the result of a module that
    found nothing to do does not (its ``changed`` is Ansible's report of a job)."""
    if call.cache is None:
        return
    if call.judged_by_task:
        unchanged = not (changed or failed)
    elif call.reports_job:  # Ansible reports every job it starts as changed
        unchanged = not (failed or call.result.failed or call.acted)
    else:
        raw = call.result
        unchanged = not (changed or failed or raw.changed or raw.failed or call.acted)
    if not unchanged:
        call.cache.invalidate()
        log("probe cache dropped")

