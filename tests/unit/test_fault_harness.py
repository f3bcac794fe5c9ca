"""The fault harness's own logic (tests/faults): the partition's nftables script is accepted by
nft (check mode, nothing applied), the watch log counts repeats and steps back but not writes
that share a revision, a gap is an acknowledged write the watch never showed, and the outage
is the longest run of failed writes."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.faults.checks import gap_resumes, watch_gaps
from tests.faults.injectors import faketime_env, partition_rules
from tests.faults.workload import Ack, Failure, WatchLog, Workload


@pytest.mark.parametrize("direction", ["both", "in", "out"])
def test_the_partition_script_is_valid_nftables(direction: str) -> None:
    script = partition_rules("10.77.6.0/24", "10.77.6.1", direction)
    assert ("chain input" in script) == (direction in ("both", "in"))
    assert ("chain output" in script) == (direction in ("both", "out"))
    if shutil.which("nft") is None:
        pytest.skip("nft is not installed")
    proc = subprocess.run(["nft", "-c", "-f", "-"], input=script, text=True, capture_output=True)
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        pytest.skip("nft -c needs CAP_NET_ADMIN")
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(ValueError):
        partition_rules("10.77.6.0/24", "10.77.6.1", "sideways")


def test_the_watch_log_counts_repeats_and_steps_back_not_shared_revisions() -> None:
    log = WatchLog()
    log.record("a", 10)
    log.record("b", 10)  # one etcd transaction, two objects
    log.record("c", 12)
    assert log.out_of_order == [] and log.shared_revisions == 1
    log.record("c", 12)  # delivered twice
    log.record("d", 11)  # behind the last
    assert len(log.out_of_order) == 2
    log.record("e", 5, ordered=False)  # a relist's item: not an event
    assert log.events == 5 and log.seen["e"] == {5}


def test_a_gap_is_an_acknowledged_write_never_seen() -> None:
    log = WatchLog()
    log.record("a", 10)
    acks = [Ack("a", 10, "x", 0.0, 0.1), Ack("b", 11, "y", 0.1, 0.2)]
    assert watch_gaps(acks, log) == ["b@11"]
    log.record("b", 11, ordered=False)  # a relist after a 410 showed it
    assert watch_gaps(acks, log) == []


def test_a_gap_names_the_resume_that_passed_it_and_what_set_its_resource_version() -> None:
    log = WatchLog()
    log.resumes.append((log.last_rv, log.source))  # the first watch, after the list
    log.record("a", 10)
    log.advance(9, "bookmark")  # behind: changes nothing
    assert (log.last_rv, log.source) == (10, "event")
    log.advance(13, "bookmark")  # ahead of b@12, which this stream never sent
    log.resumes.append((log.last_rv, log.source))  # the stream broke: watch again
    log.record("c", 14)
    acks = [Ack("a", 10, "x", 0.0, 0.1), Ack("b", 12, "y", 0.1, 0.2), Ack("c", 14, "z", 0.2, 0.3),
            Ack("d", 15, "w", 0.3, 0.4)]
    assert gap_resumes(acks, log) == ["b@12: resumed from 13 (bookmark)",
                                      "d@15: within one stream (no resume passed it)"]


def test_the_outage_is_the_longest_run_of_failed_writes() -> None:
    workload = Workload.__new__(Workload)
    workload.acks = [Ack("a", 1, "", 0.0, 0.1), Ack("d", 2, "", 3.0, 3.1), Ack("f", 3, "", 5.0, 5.1)]
    workload.failures = [Failure("b", 1.0, 2.0, "refused"), Failure("c", 2.0, 2.5, "refused"),
                         Failure("e", 4.5, 4.6, "refused")]
    assert workload.outage_s() == pytest.approx(2.0)  # 1.0 .. 3.0
    assert workload.outage_s(since=4.0) == pytest.approx(0.5)
    workload.failures = []
    assert workload.outage_s() == 0.0


def test_the_faketime_environment_preloads_libfaketime_with_real_monotonic_clocks() -> None:
    try:
        env = faketime_env(-3600, {"PATH": "/bin"})
    except RuntimeError as exc:
        pytest.skip(str(exc))
    assert env["FAKETIME"] == "-3600" and env["FAKETIME_DONT_FAKE_MONOTONIC"] == "1"
    proc = subprocess.run(["date", "-u", "+%s"], env=env, capture_output=True, text=True, check=True)
    real = subprocess.run(["date", "-u", "+%s"], capture_output=True, text=True, check=True)
    assert 3590 <= int(real.stdout) - int(proc.stdout) <= 3610


def test_caught_up_waits_for_writes_still_in_flight() -> None:
    """A write started before the writer stopped can be acknowledged seconds later (a group
    commit held up by a partition answers every queued write at once, at one revision). The
    watch has caught up only once it has seen that revision too: checked before, the 27
    writes of one such commit were reported as watch gaps (round 7 of decision 0060)."""
    sent, release = threading.Event(), threading.Event()

    class _HeldClient:
        async def create(self, *_: Any) -> dict[str, Any]:
            sent.set()
            while not release.is_set():
                await asyncio.sleep(0.01)
            return {"metadata": {"resourceVersion": "7"}}

    workload = Workload(Path("unused"), "ns")
    workload.acks.append(Ack("w-000000", 5, "v", 0.0, 0.0))
    workload.watch.record("w-000000", 5)
    client: Any = _HeldClient()
    writer = threading.Thread(target=asyncio.run, args=(workload._write_one(client, "w-000001"),))
    writer.start()
    assert sent.wait(5.0)  # the write is out
    answered = threading.Timer(0.2, release.set)
    answered.start()
    seen = threading.Timer(0.4, lambda: workload.watch.record("w-000001", 7))
    seen.start()
    caught_up = workload.wait_watch_caught_up(5.0)
    seen_then = set(workload.watch.seen)
    writer.join()
    answered.join()
    seen.join()
    assert caught_up
    assert [a.resource_version for a in workload.acks] == [5, 7]
    assert seen_then == {"w-000000", "w-000001"}, "returned before the write in flight was seen"
