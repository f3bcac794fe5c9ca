"""The API server's etcd client over a real 3-member etcd when one member stops answering.

SIGSTOP on a member reproduces "TCP still open, no answer" (a partitioned or hung member):
gRPC never reports it UNAVAILABLE. The client must notice it by its health probe, move to
another member, and go on writing, reading and watching there within a bound the test prints;
no acknowledged write lost, and the watch (resumed on the new member from its last revision)
sees every acknowledged write exactly once, in order. Once with the stopped member the leader
(an election on the survivors), once a follower.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import pytest
from aetcd import rpc

from kprov.cluster.storage import EtcdConfig, EtcdKV, StorageError
from kprov.cluster.storage.member_health import HealthPolicy
from kprov.cluster.storage.watch_stream import EtcdWatchStream
from kprov.local.etcd import LocalEtcd, start_etcd_cluster
from kprov.local.processes import stop_process

pytestmark = pytest.mark.etcd

PREFIX = b"/failover/"
BOUND_S = 5.0  # the target for the loss of one control-plane member


async def _leader(members: list[LocalEtcd]) -> int:
    """The index of the member that is leader (asked of each member; waits for an election)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for index, member in enumerate(members):
            kv = EtcdKV(EtcdConfig([member.url]))
            try:
                await kv.connect()
                status = await kv.client.maintenancestub.Status(rpc.StatusRequest(), timeout=2)
                if status.leader and status.leader == status.header.member_id:
                    return index
            except Exception:  # noqa: BLE001 - not up yet
                pass
            finally:
                await kv.close()
        await asyncio.sleep(0.2)
    raise AssertionError("no etcd leader within 30 s")


async def _run(members: list[LocalEtcd], stopped: int) -> dict[str, float]:
    order = [stopped] + [i for i in range(len(members)) if i != stopped]  # the client starts on it
    kv = EtcdKV(EtcdConfig([members[i].url for i in order], timeout_s=10.0, health=HealthPolicy()))
    await kv.connect()
    start = (await kv.range(PREFIX)).revision
    seen: list[int] = []
    stream = EtcdWatchStream(kv, PREFIX, start + 1)

    async def watch() -> None:
        async for batch in stream.batches():
            seen.extend(int(event.kv.mod_revision) for event in batch.events)

    acks: list[tuple[bytes, int, float]] = []  # key, revision, acknowledged at
    failures: list[tuple[float, str]] = []
    writing = True

    async def write() -> None:
        number = 0
        while writing:
            number += 1
            key = PREFIX + b"%06d" % number
            try:
                revision = await kv.put(key, b"v%d" % number)
                acks.append((key, revision, time.monotonic()))
            except StorageError as exc:
                failures.append((time.monotonic(), f"{type(exc).__name__}: {exc}"))
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    writer = asyncio.create_task(write())
    pid = members[stopped].pid
    try:
        await asyncio.sleep(1.0)
        acked_before = len(acks)
        os.kill(pid, signal.SIGSTOP)
        cut = time.monotonic()
        await asyncio.sleep(BOUND_S + 2)
        read_started = time.monotonic()
        acked_at_read = len(acks)
        read = await kv.range(PREFIX, PREFIX + b"\xff", count_only=True)
        read_s = time.monotonic() - read_started
        writing = False
        await writer
        last = acks[-1][1]
        deadline = time.monotonic() + 10
        while (not seen or seen[-1] < last) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        os.kill(pid, signal.SIGCONT)
        watcher.cancel()
        with contextlib.suppress(BaseException):
            await watcher
        writer.cancel()
        with contextlib.suppress(BaseException):
            await writer
    after = [at for _, _, at in acks if at > cut]
    unavailable_s = (after[0] - cut) if after else float("inf")
    figures = {
        "acked_before_cut": float(acked_before),
        "acked_after_cut": float(len(after)),
        "failed_writes": float(len(failures)),
        "write_unavailable_s": unavailable_s,
        "read_s_after": read_s,
        "watch_resumed": float(stream.resumed),
    }
    print(f"stopped member {stopped}: {figures}; failures: {failures[:3]}")

    assert unavailable_s <= BOUND_S, (figures, failures[:5])
    assert read.count >= acked_at_read
    assert kv.current != 0, "the client stayed on the stopped member"
    assert stream.resumed >= 1
    for key, revision, _ in acks:  # no acknowledged write lost
        got = await kv.range(key)
        assert got.kvs and int(got.kvs[0].mod_revision) == revision, key
    # the watch: every acknowledged write exactly once and in order (no gap, no duplicate)
    assert seen == sorted(set(seen)), "watch events duplicated or out of order"
    missing = sorted({revision for _, revision, _ in acks} - set(seen))
    assert missing == [], f"watch gap: {missing[:10]}"
    await kv.close()
    return figures


@pytest.mark.parametrize("role", ["leader", "follower"])
async def test_reads_writes_and_the_watch_go_on_when_a_member_stops_answering(
    tmp_path: Path, role: str
) -> None:
    if not Path("/usr/bin/etcd").exists():
        pytest.skip("etcd is not installed (Debian package etcd-server)")
    members = start_etcd_cluster(tmp_path, 3)
    try:
        leader = await _leader(members)
        stopped = leader if role == "leader" else (leader + 1) % len(members)
        figures = await _run(members, stopped)
        print(f"{role}: write_unavailable_s={figures['write_unavailable_s']:.2f} "
              f"(bound {BOUND_S}), read_s_after={figures['read_s_after']:.2f}")
    finally:
        for member in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(member.pid, signal.SIGCONT)
            stop_process(tmp_path, member.name)
