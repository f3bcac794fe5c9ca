from __future__ import annotations

import asyncio

import pytest

from kprov.cluster.client.leader import LeaderElectionConfig, LeaderElector, LeadershipLost
from kprov.cluster.client.resources import LEASES
from tests.unit.client.fake_api import FakeApi


def cfg(identity: str, **kw: float) -> LeaderElectionConfig:
    return LeaderElectionConfig(name="kube-scheduler", identity=identity, **kw)  # type: ignore[arg-type]


async def test_only_one_candidate_wins_and_the_other_waits_for_expiry() -> None:
    api = FakeApi()
    a = LeaderElector(api, cfg("a", lease_duration=0.3))  # type: ignore[arg-type]
    b = LeaderElector(api, cfg("b", lease_duration=0.3))  # type: ignore[arg-type]
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert await a.try_acquire_or_renew()  # renew
    lease = await api.get(LEASES, "kube-scheduler", "kube-system")
    assert lease["spec"]["holderIdentity"] == "a" and lease["spec"]["leaseTransitions"] == 0
    # a stops renewing; b takes over only once the record has been unchanged for the duration
    assert not await b.try_acquire_or_renew()
    await asyncio.sleep(0.35)
    assert await b.try_acquire_or_renew()
    lease = await api.get(LEASES, "kube-scheduler", "kube-system")
    assert lease["spec"]["holderIdentity"] == "b" and lease["spec"]["leaseTransitions"] == 1


async def test_concurrent_takeover_is_decided_by_resource_version() -> None:
    api = FakeApi()
    electors = [LeaderElector(api, cfg(str(i))) for i in range(5)]  # type: ignore[arg-type]
    results = await asyncio.gather(*(e.try_acquire_or_renew() for e in electors))
    assert sum(results) == 1


async def test_run_cancels_work_when_the_lease_is_lost() -> None:
    api = FakeApi()
    me = LeaderElector(api, cfg("me", lease_duration=1, renew_deadline=0.2, retry_period=0.05))  # type: ignore[arg-type]
    cancelled = asyncio.Event()

    async def lead() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    runner = asyncio.create_task(me.run(lead))
    await asyncio.sleep(0.1)
    assert me.is_leader
    # someone else steals the lease: every renew now conflicts with a foreign holder
    lease = await api.get(LEASES, "kube-scheduler", "kube-system")
    lease["spec"]["holderIdentity"] = "thief"
    await api.update(LEASES, lease)
    with pytest.raises(LeadershipLost):
        await asyncio.wait_for(runner, 2)
    assert cancelled.is_set() and not me.is_leader


async def test_a_cancel_that_lands_as_a_renewal_completes_stops_the_renew_loop() -> None:
    # On Python 3.11 asyncio.wait_for swallowed such a cancel: the elector went on renewing
    # (holding the Lease) forever and whoever awaited it after cancelling hung.
    elector = LeaderElector(FakeApi(), LeaderElectionConfig(  # type: ignore[arg-type]
        name="x", lease_duration=1, renew_deadline=0.5, retry_period=0.01))
    renewals = 0
    task: asyncio.Task[None] | None = None

    async def renew() -> bool:
        nonlocal renewals
        renewals += 1
        if renewals == 3 and task is not None:
            task.cancel()
        return True

    elector.try_acquire_or_renew = renew  # type: ignore[method-assign]
    task = asyncio.create_task(elector._renew_loop())
    done, _ = await asyncio.wait({task}, timeout=1.0)
    assert done and task.cancelled(), f"still renewing after the cancel ({renewals} renewals)"
