"""The heap trimmer: freed memory is handed back after large requests (the fuzz harness's
RSS stayed at its high-water mark without it), once per burst, never for small ones."""

from __future__ import annotations

import asyncio

from kprov.cluster.apiserver.front.heap import HeapTrimmer, glibc_trim, tune_glibc_heap


async def test_a_large_request_is_followed_by_one_trim_and_small_ones_by_none() -> None:
    calls: list[float] = []
    loop = asyncio.get_running_loop()
    trimmer = HeapTrimmer(loop, lambda: calls.append(loop.time()), large_bytes=1000, min_interval_s=0.2)
    trimmer.note(10)
    await asyncio.sleep(0.05)
    assert calls == []
    trimmer.note(5000)
    trimmer.note(5000)  # a burst: one trim
    await asyncio.sleep(0.05)
    assert len(calls) == 1
    trimmer.note(5000)  # within the interval: deferred, not dropped
    await asyncio.sleep(0.05)
    assert len(calls) == 1
    await asyncio.sleep(0.25)
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.19
    trimmer.close()


async def test_glibc_is_found_here_and_trims() -> None:
    trim = glibc_trim()
    assert trim is not None  # the test machines run glibc
    trim()
    assert tune_glibc_heap()
