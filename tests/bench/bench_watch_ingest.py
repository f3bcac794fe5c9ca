"""How fast the watch cache takes in etcd's events while its event loop is saturated.

A local etcd (``--unsafe-no-fsync``), a :class:`WatchCache` in this process, ``--busy``
coroutines that each spin 0.2 ms and yield (requests keeping the loop busy: every loop turn
runs each of them once), and a separate process writing ``--keys`` keys under ``/registry/``
with 64 in flight. Prints

- ``watch_ingest_lag_s``: from the writer's last reply to the cache holding etcd's last
  revision (how far behind a consistent LIST would wait);
- ``watch_ingest_events_per_s``: events the cache applied per second, first write to caught up;
- ``watch_ingest_events_per_response``: how many events etcd packed in each watch response
  (a cache that lags gets bigger batches);
- ``watch_ingest_stalled_revisions``: revisions still missing at ``--timeout`` (must be 0).

Loop turns are what it measures, so it is sensitive to load: alternate the versions compared.

    python tests/bench/bench_watch_ingest.py [--busy 50] [--keys 20000] [--loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kprov.cluster.storage import Codec, EtcdConfig, EtcdKV, WatchCache, watch_stream  # noqa: E402
from kprov.local.ports import free_port  # noqa: E402

_WRITER = """
import asyncio, sys
from kprov.cluster.storage import EtcdConfig, EtcdKV
async def main(url, n):
    kv = EtcdKV(EtcdConfig([url])); await kv.connect()
    sem = asyncio.Semaphore(64)
    async def put(i):
        async with sem:
            await kv.put(b'/registry/configmaps/b/k%d' % i, b'{"metadata":{"name":"x"}}')
    await asyncio.gather(*(put(i) for i in range(n)))
    page = await kv.range(b'/registry/', b'/registry0', count_only=True)
    print(page.revision, page.count, flush=True)
    await kv.close()
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def _busy(stop: asyncio.Event) -> None:
    while not stop.is_set():
        began = time.perf_counter()
        while time.perf_counter() - began < 0.0002:
            pass
        await asyncio.sleep(0)


def _counting(counts: dict[str, int]) -> Any:
    """EtcdWatchStream.batches, counting the responses and events it hands over."""
    original = watch_stream.EtcdWatchStream.batches

    async def batches(self: watch_stream.EtcdWatchStream) -> AsyncIterator[watch_stream.WatchBatch]:
        async for batch in original(self):
            counts["responses"] += 1
            counts["events"] += len(batch.events)
            yield batch

    return batches


async def _run(args: argparse.Namespace, data: str) -> dict[str, float]:
    client_port, peer_port = free_port(), free_port()
    url = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    etcd = subprocess.Popen(
        [shutil.which("etcd") or "/usr/bin/etcd", "--data-dir", data, "--listen-client-urls", url,
         "--advertise-client-urls", url, "--listen-peer-urls", peer, "--initial-advertise-peer-urls",
         peer, "--initial-cluster", f"default={peer}", "--unsafe-no-fsync"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    kv = EtcdKV(EtcdConfig([url]))
    cache: WatchCache | None = None
    stop = asyncio.Event()
    busy: list[asyncio.Task[None]] = []
    try:
        await kv.connect()
        for _ in range(100):  # etcd is up when it answers
            try:
                await kv.range(b"/registry/")
                break
            except Exception:
                await asyncio.sleep(0.1)
        counts = {"responses": 0, "events": 0}
        watch_stream.EtcdWatchStream.batches = _counting(counts)  # type: ignore[method-assign]
        cache = WatchCache(kv, Codec(), lambda key: key[: key.rfind("/") + 1])
        await cache.start()
        busy = [asyncio.create_task(_busy(stop)) for _ in range(args.busy)]
        began = time.perf_counter()
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, url, str(args.keys)], stdout=subprocess.PIPE, text=True,
            cwd=str(Path(__file__).resolve().parents[2]),
        )
        out, _ = await asyncio.to_thread(writer.communicate)
        last, count = (int(word) for word in out.split())
        written = time.perf_counter()
        deadline = written + args.timeout
        while cache.revision < last and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        caught = time.perf_counter()
        return {
            "watch_ingest_lag_s": caught - written,
            "watch_ingest_events_per_s": counts["events"] / (caught - began),
            "watch_ingest_events_per_response": counts["events"] / max(1, counts["responses"]),
            "watch_ingest_writes_per_s": args.keys / (written - began),
            "watch_ingest_stalled_revisions": max(0, last - cache.revision),
            "watch_ingest_keys": count,
        }
    finally:
        stop.set()
        await asyncio.gather(*busy)
        if cache is not None:
            await cache.stop()
        await kv.close()
        etcd.terminate()
        etcd.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", type=int, default=50, help="coroutines spinning 0.2 ms a turn")
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="uvloop",
                        help="the API server runs on uvloop")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    factory = None
    if args.loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with (
        tempfile.TemporaryDirectory(prefix="bench-watch-ingest-") as data,
        asyncio.Runner(loop_factory=factory) as runner,
    ):
        figures = runner.run(_run(args, data))
    print(f"watch_ingest_busy: {args.busy}")
    print(f"watch_ingest_loop: {args.loop}")
    for name, value in figures.items():
        print(f"{name}: {value:.2f}" if isinstance(value, float) else f"{name}: {value}")


if __name__ == "__main__":
    main()
