"""Nominated pods hold the room their victims free: a pod of lower priority (e.g. a victim's
replacement) does not fit there while the preemptor waits, one of higher priority does not
see it, and the preemptor itself is not counted against its own node."""

from __future__ import annotations

from typing import Any

from kprov.cluster.scheduler.nominator import Nominator
from kprov.cluster.scheduler.podinfo import PodInfo
from tests.unit.scheduler.helpers import cache_with, node, pod, run


def _nominated(name: str, cpu: str, priority: int, node_name: str) -> dict[str, Any]:
    p = pod(name, cpu=cpu, priority=priority)
    p["status"] = {"nominatedNodeName": node_name}
    return p


def test_a_lower_priority_pod_cannot_take_the_room_a_preemptor_was_nominated_for() -> None:
    cache = cache_with([node("a", cpu="1")], [])
    nominator = Nominator()
    preemptor = _nominated("preemptor", "1", 100, "a")
    nominator.observe("default/preemptor", preemptor)
    replacement = PodInfo.of(pod("replacement", cpu="500m", priority=1))
    with nominator.counted_for(replacement, cache):
        assert run(cache, replacement.pod).node is None
    assert run(cache, replacement.pod).node == "a"  # the cache holds no trace of it afterwards
    assert not cache.is_assigned("default/preemptor")
    important = PodInfo.of(pod("important", cpu="500m", priority=1000))
    with nominator.counted_for(important, cache):
        assert run(cache, important.pod).node == "a"
    with nominator.counted_for(PodInfo.of(preemptor), cache):
        assert run(cache, preemptor).node == "a"


def test_a_bound_or_deleted_preemptor_no_longer_holds_room() -> None:
    nominator = Nominator()
    preemptor = _nominated("preemptor", "1", 100, "a")
    nominator.observe("default/preemptor", preemptor)
    bound = {**preemptor, "spec": {**preemptor["spec"], "nodeName": "a"}}
    nominator.observe("default/preemptor", bound)
    assert len(nominator) == 0
    nominator.observe("default/preemptor", preemptor)
    nominator.observe("default/preemptor", None)
    assert len(nominator) == 0
