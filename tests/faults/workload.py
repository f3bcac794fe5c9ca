"""The workload that runs through a fault: a ConfigMap writer and a watch, through the API VIP.

The writer starts one create every ``interval_s`` on the clock, whatever earlier requests are
doing (each with its own timeout): a request caught in flight when its server's host
vanishes hangs until the timeout, and a serial loop would then measure the client's timeout
rather than how long the API refused new requests (the reasoning of tests/bench/_ha.py's
Poller). Every create is a new name with a random value, so each acknowledged write is one
(name, resourceVersion, value) to find again; every failed request is kept with its error
(its outcome is unknown: it may or may not have been committed, and it is never checked).

The watch lists the namespace, then watches from the list's resourceVersion; a 410 (Gone)
relists (allowed: the relist's items count as seen), any other break resumes from the last
resourceVersion seen (no relist: anything skipped is then a gap). An idle stream is
restarted after ``idle_s`` (a connection to a host that vanished never closes by itself).
Events must come in increasing resourceVersion order; a repeat or a step back is counted.

Both run on one asyncio loop in a thread of their own, so a test drives them synchronously:
``with Workload(kubeconfig, ns) as w: <inject, heal>`` and then read ``w.acks``/``w.watch``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from kprov.cluster.client import ApiClient, Gone, load_kubeconfig, resources
from tests.faults.background import BackgroundLoops, ensure_namespace

__all__ = ["Ack", "Failure", "WatchLog", "Workload"]


@dataclass(frozen=True)
class Ack:
    name: str
    resource_version: int
    value: str
    started: float  # time.monotonic() when the request was sent
    done: float


@dataclass(frozen=True)
class Failure:
    name: str
    started: float
    done: float
    error: str


@dataclass
class WatchLog:
    """What the watch delivered: per name the resourceVersions seen (events and relists)."""

    seen: dict[str, set[int]] = field(default_factory=dict)
    last_rv: int = 0
    events: int = 0
    relists: int = 0
    restarts: int = 0
    out_of_order: list[str] = field(default_factory=list)  # an event below the last rv, or a repeat
    # events at the revision of the event before them: kprov's API server commits concurrent
    # writes in one etcd transaction (kprov/cluster/storage/group_commit.py), so several
    # objects can share a resourceVersion (upstream's never do)
    shared_revisions: int = 0
    # what set last_rv: "event", "bookmark" or "relist"; and per watch started, the
    # resourceVersion it resumed from and that source (a gap is explained by the resume
    # that jumped over it: see tests.faults.checks.gap_resumes)
    source: str = "relist"
    resumes: list[tuple[int, str]] = field(default_factory=list)

    def record(self, name: str, rv: int, *, ordered: bool = True) -> None:
        if ordered:
            if rv < self.last_rv or rv in self.seen.get(name, set()):
                self.out_of_order.append(f"{name}@{rv} after {self.last_rv}")
            elif rv == self.last_rv:
                self.shared_revisions += 1
            self.advance(rv, "event")
            self.events += 1
        self.seen.setdefault(name, set()).add(rv)

    def advance(self, rv: int, source: str) -> None:
        if rv > self.last_rv:
            self.last_rv, self.source = rv, source


@dataclass
class Workload:
    kubeconfig: Path
    namespace: str
    interval_s: float = 0.1
    timeout_s: float = 5.0
    idle_s: float = 5.0
    acks: list[Ack] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    watch: WatchLog = field(default_factory=WatchLog)
    watch_errors: list[str] = field(default_factory=list)
    _loops: BackgroundLoops | None = None
    _writing: threading.Event = field(default_factory=threading.Event)
    _in_flight: int = 0  # writes started and not yet acknowledged or failed

    # --- driving it ----------------------------------------------------------------------
    def __enter__(self) -> Workload:
        asyncio.run(self._ensure_namespace())
        self._writing.set()
        self._loops = BackgroundLoops(self.kubeconfig, self.timeout_s, "fault-workload",
                                      self._write_loop, self._watch_loop)
        self._loops.start()
        deadline = time.monotonic() + 30
        while not self.acks and time.monotonic() < deadline:  # the API answers before any fault
            time.sleep(0.1)
        if not self.acks:
            self.__exit__()
            raise AssertionError(f"the workload got no write acknowledged before any fault: "
                                 f"{self.failures[-1:] or 'no request finished'}")
        return self

    def stop_writing(self) -> None:
        """Stop starting writes (the watch goes on, to catch up)."""
        self._writing.clear()

    def __exit__(self, *exc: object) -> None:
        self._writing.clear()
        if self._loops is not None:
            self._loops.stop(self.timeout_s + self.idle_s + 10)

    def wait_watch_caught_up(self, timeout_s: float) -> bool:
        """Until no write is in flight any more and the watch has seen the highest
        acknowledged resourceVersion. A write started before :meth:`stop_writing` may still
        be acknowledged up to its timeout later (a group commit held up by a partition
        answers them all at once), at a revision the watch must see too."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._caught_up():
                return True
            time.sleep(0.2)
        return self._caught_up()

    def _caught_up(self) -> bool:
        if self._in_flight:
            return False
        return self.watch.last_rv >= max((a.resource_version for a in self.acks), default=0)

    # --- figures -------------------------------------------------------------------------
    def outage_s(self, since: float = 0.0) -> float:
        """The longest run of failed writes (started at or after ``since``): the first
        failure's start to the start of the next write acknowledged; 0 when none failed."""
        outcomes = sorted([(a.started, True) for a in self.acks if a.started >= since]
                          + [(f.started, False) for f in self.failures if f.started >= since])
        longest, first_failed = 0.0, None
        for started, ok in outcomes:
            if not ok and first_failed is None:
                first_failed = started
            elif ok and first_failed is not None:
                longest = max(longest, started - first_failed)
                first_failed = None
        if first_failed is not None and outcomes:  # still failing at the end
            longest = max(longest, outcomes[-1][0] - first_failed)
        return longest

    # --- the loop ------------------------------------------------------------------------
    async def _ensure_namespace(self) -> None:
        async with ApiClient(load_kubeconfig(self.kubeconfig), timeout=10.0) as client:
            await ensure_namespace(client, self.namespace)

    async def _write_loop(self, client: ApiClient) -> None:
        pending: set[asyncio.Task[None]] = set()
        index = 0
        next_start = time.monotonic()
        try:
            while True:
                if self._writing.is_set():
                    task = asyncio.create_task(self._write_one(client, f"w-{index:06d}"))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    index += 1
                next_start += self.interval_s
                await asyncio.sleep(max(0.0, next_start - time.monotonic()))
        finally:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _write_one(self, client: ApiClient, name: str) -> None:
        value = secrets.token_hex(8)
        started = time.monotonic()
        body = {"metadata": {"name": name, "namespace": self.namespace}, "data": {"v": value}}
        self._in_flight += 1
        try:  # recorded before it stops counting as in flight (wait_watch_caught_up reads both)
            try:
                made = await asyncio.wait_for(client.create(resources.CONFIGMAPS, body, self.namespace),
                                              self.timeout_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failed request is a recorded outcome
                error = f"{type(exc).__name__}: {exc}"[:300]
                self.failures.append(Failure(name, started, time.monotonic(), error))
                return
            rv = int(made["metadata"]["resourceVersion"])
            self.acks.append(Ack(name, rv, value, started, time.monotonic()))
        finally:
            self._in_flight -= 1

    async def _relist(self, client: ApiClient) -> int:
        items, rv = await client.list_all(resources.CONFIGMAPS, self.namespace)
        for item in items:
            meta = item["metadata"]
            self.watch.record(meta["name"], int(meta["resourceVersion"]), ordered=False)
        self.watch.relists += 1
        self.watch.advance(int(rv), "relist")
        return int(rv)

    async def _watch_loop(self, client: ApiClient) -> None:
        listed = False
        while True:
            try:
                if not listed:
                    await self._relist(client)
                    listed = True
                self.watch.resumes.append((self.watch.last_rv, self.watch.source))
                stream = client.watch(resources.CONFIGMAPS, self.namespace,
                                      resource_version=str(self.watch.last_rv), timeout_seconds=60)
                try:
                    while True:
                        event = await asyncio.wait_for(anext(stream), self.idle_s)
                        meta = event.object.get("metadata") or {}
                        if event.type == "BOOKMARK":
                            self.watch.advance(int(meta.get("resourceVersion") or 0), "bookmark")
                        elif event.type in ("ADDED", "MODIFIED", "DELETED"):
                            self.watch.record(str(meta.get("name")), int(meta["resourceVersion"]))
                finally:
                    with contextlib.suppress(Exception):
                        await stream.aclose()  # type: ignore[attr-defined]  # an async generator
            except asyncio.CancelledError:
                raise
            except Gone:
                listed = False  # 410: relist, as an informer does
            except StopAsyncIteration:
                pass  # the server ended the watch (timeoutSeconds): resume
            except Exception as exc:  # noqa: BLE001 - a broken or idle stream: resume from last_rv
                self.watch_errors.append(f"{type(exc).__name__}: {exc}"[:200])
                await asyncio.sleep(0.2)
            self.watch.restarts += 1

