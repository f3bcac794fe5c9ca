"""The prober manager on its own: which probe workers run, what their verdicts mean for a
container (ready, started, killed), and the readiness changes a terminating pod reports."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from kprov.cluster.kubelet.cri.types import CONTAINER_EXITED, CONTAINER_RUNNING, ContainerInfo
from kprov.cluster.kubelet.pods.prober_manager import ProberManager
from kprov.cluster.kubelet.pods.probes import LIVENESS, READINESS, STARTUP
from tests.unit.kubelet.fakes import FakeRuntime

EXEC = {"exec": {"command": ["true"]}, "periodSeconds": 3600, "initialDelaySeconds": 3600}


def _info(cid: str, name: str, state: str = CONTAINER_RUNNING) -> ContainerInfo:
    return ContainerInfo(cid, "sb1", name, 0, state, 1)


class _World:
    def __init__(self) -> None:
        self.terminating = False
        self.changes = 0
        self.events: list[tuple[str, str, str]] = []
        self.manager = ProberManager(FakeRuntime(), self._changed, self._event, lambda: self.terminating)

    def _changed(self) -> None:
        self.changes += 1

    def _event(self, event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))


async def test_workers_follow_the_running_containers_declared_probes() -> None:
    world = _World()
    spec: dict[str, Any] = {
        "containers": [
            {"name": "app", "livenessProbe": EXEC, "readinessProbe": EXEC},
            {"name": "plain"},
            {"name": "done", "readinessProbe": EXEC},
        ],
        "initContainers": [{"name": "proxy", "restartPolicy": "Always", "startupProbe": EXEC}],
    }
    by_name = {
        "app": [_info("c1", "app")],
        "plain": [_info("c2", "plain")],
        "done": [_info("c3", "done", CONTAINER_EXITED)],
        "proxy": [_info("c4", "proxy")],
    }
    world.manager.sync(spec, by_name, ["10.0.0.5"])
    assert world.manager.probing == {("c1", LIVENESS), ("c1", READINESS), ("c4", STARTUP)}
    world.manager.on_result("c1", READINESS, True, "")
    by_name["app"] = [_info("c5", "app"), replace(by_name["app"][0], state=CONTAINER_EXITED)]
    world.manager.sync(spec, by_name, ["10.0.0.5"])  # restarted: the old instance's probes go
    assert world.manager.probing == {("c5", LIVENESS), ("c5", READINESS), ("c4", STARTUP)}
    assert ("c1", READINESS) not in world.manager.results
    world.manager.stop(set())
    assert world.manager.probing == set()
    await asyncio.sleep(0)


async def test_liveness_then_startup_failure_kills_and_every_verdict_wakes_the_worker() -> None:
    world = _World()
    assert world.manager.failed("c1") is None
    world.manager.on_result("c1", STARTUP, False, "")
    assert world.manager.failed("c1") == STARTUP
    world.manager.on_result("c1", LIVENESS, False, "")
    assert world.manager.failed("c1") == LIVENESS
    world.manager.on_result("c1", READINESS, False, "")
    assert world.manager.failed("c1") == LIVENESS  # readiness never kills
    assert world.changes == 3


def test_flags_from_the_verdicts_and_while_terminating() -> None:
    world = _World()
    cur = _info("c1", "app")
    plain: dict[str, Any] = {"name": "app"}
    gated: dict[str, Any] = {"name": "app", "startupProbe": EXEC, "readinessProbe": EXEC}
    assert world.manager.flags(plain, cur) == (True, True)
    assert world.manager.flags(plain, None) == (False, False)
    assert world.manager.flags(plain, replace(cur, state=CONTAINER_EXITED)) == (False, False)
    assert world.manager.flags(gated, cur) == (False, False)  # not started yet
    world.manager.results[("c1", STARTUP)] = True
    assert world.manager.flags(gated, cur) == (False, True)
    world.manager.results[("c1", READINESS)] = True
    assert world.manager.flags(gated, cur) == (True, True)
    world.terminating = True
    world.manager.results.pop(("c1", STARTUP))
    assert world.manager.flags(gated, cur) == (True, True)  # startup counts as passed now


async def test_only_readiness_goes_on_and_its_changes_are_reported_while_terminating() -> None:
    world = _World()
    spec = {"containers": [{"name": "app", "livenessProbe": EXEC, "readinessProbe": EXEC}]}
    world.manager.sync(spec, {"app": [_info("c1", "app")]}, [])
    world.manager.on_result("c1", READINESS, True, "")
    assert not world.manager.take_readiness_change()  # not terminating: the sync writes it
    world.terminating = True
    world.manager.keep_readiness_only()
    assert world.manager.probing == {("c1", READINESS)}
    world.manager.on_result("c1", READINESS, True, "")  # the same verdict again: no change
    assert not world.manager.take_readiness_change()
    world.manager.on_result("c1", READINESS, False, "")
    assert world.manager.take_readiness_change()
    assert not world.manager.take_readiness_change()  # taken once
    world.manager.stop(set())
    await asyncio.sleep(0)
