"""A hollow node's heartbeats behave as a kubelet's loop: the next renewal waits for the last,
and heartbeats never hold the slots pod work needs (the backlog of renewals on a slow API
server once starved every pod's status: 14,000 bound pods stayed Pending at 5,000 nodes)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from kprov.cluster.hollow.fleet import FleetConfig, HollowFleet

from .no_client import NoClient


def test_a_node_whose_last_renewal_has_not_ended_is_skipped_not_queued() -> None:
    fleet = HollowFleet(NoClient(), FleetConfig(count=3))  # type: ignore[arg-type]
    calls: Counter[str] = Counter()
    stuck = asyncio.Event()

    async def renew(name: str) -> None:
        calls[name] += 1
        if name == "hollow-node-0":
            await stuck.wait()  # an API server that never answers this node

    async def scenario() -> None:
        loop = fleet._every(0.03, renew)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(loop, 0.35)

    asyncio.run(scenario())
    assert calls["hollow-node-0"] == 1
    assert calls["hollow-node-1"] >= 5 and calls["hollow-node-2"] >= 5


def test_heartbeats_and_pod_work_have_their_own_slots_within_the_concurrency() -> None:
    fleet = HollowFleet(NoClient(), FleetConfig(count=1, concurrency=64))  # type: ignore[arg-type]
    heartbeat, pods = fleet._heartbeat_limit._value, fleet._limit._value
    assert heartbeat >= 1 and pods >= 1 and heartbeat + pods == 64
