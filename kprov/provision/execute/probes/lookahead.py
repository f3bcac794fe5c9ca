"""Run-wide look-ahead: before the first play, every play's probes for a host in one round trip.

Each play would otherwise start with a batch of its own (predicting after the barrier that
ends the play before). Here each host, in parallel, predicts the tasks of every play it is
in, in playbook order, assuming every earlier task reports ``ok`` (registered results stand
in as unchanged, across plays too), and reads all their probes at once into its probe
cache (execute.probecache). A play then predicts only what is not covered yet: nothing,
unless a task changed the host (the cache and its coverage are dropped) or a prediction
could not be made. ``early``: probes a phase before the plays will ask (kprov's preflight
probe), read in the same round trip.

The predictions are pure operator CPU, and hosts predict one at a time (the run's
``lookahead_lock``; the round trips overlap): interleaved on the GIL, all hosts' predictions
ended together, late, and every batch then started at once; one at a time, the first host's
batch starts after one prediction, and the hosts work while the operator predicts the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kprov.provision.execute.context import PlayContext, RunContext
from kprov.provision.execute.host_runner import HostRunner
from kprov.provision.execute.play_runner import PlayRunner
from kprov.provision.modules.base import ProbeKey
from kprov.provision.playbook.model import Play, Task

__all__ = ["read_plays_ahead"]


def read_plays_ahead(run: RunContext, plays: list[Play], host: str, early: Sequence[ProbeKey] = ()) -> None:
    """Best effort: a failure here (the host lost, an engine bug) leaves the plays to probe
    live and report what they find."""
    try:
        _read(run, plays, host, early)
    except Exception as err:  # noqa: BLE001
        run.log.event(host, f"look-ahead skipped: {type(err).__name__}: {err}")


def _read(run: RunContext, plays: list[Play], host: str, early: Sequence[ProbeKey]) -> None:
    state = run.hosts[host]
    if not state.alive or state.connector is None:
        return
    generation = state.probes.generation
    standins: dict[str, Any] = {}
    tasks: list[Task] = []
    keys: list[ProbeKey] = list(early)
    runner: HostRunner | None = None
    with run.lookahead_lock:
        for play in plays:
            hosts = PlayRunner(run, play).hosts()
            if host not in hosts:
                continue
            pctx = PlayContext(play=play, hosts=hosts, batch=hosts, sync=None)
            runner = HostRunner(run, pctx, state)
            play_tasks, play_keys = runner.predict_play(standins)
            tasks += play_tasks
            keys += play_keys
    if runner is not None:
        runner.tasks.prefetch(keys, tasks, generation)
