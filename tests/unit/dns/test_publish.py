"""The kube-dns Service and the servers' own EndpointSlices as data (no API)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Any

from kprov.cluster.client.errors import NotFound
from kprov.cluster.dns.publish import Publisher, PublishOptions, service_object, slice_object, stale_peers

NOW = dt.datetime(2026, 11, 23, 9, 0, 0, tzinfo=dt.UTC)
H1 = PublishOptions(node_name="h1", address="10.77.0.11", cluster_ip="10.96.0.10")
H2 = PublishOptions(node_name="h2", address="10.77.0.12")


def test_service_is_selectorless_on_the_conventional_ip() -> None:
    svc = service_object(H1)
    assert svc["metadata"]["name"] == "kube-dns" and svc["metadata"]["namespace"] == "kube-system"
    assert "selector" not in svc["spec"] and svc["spec"]["clusterIP"] == "10.96.0.10"
    ports = {(p["protocol"], p["port"]) for p in svc["spec"]["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 9153)}


def test_slice_carries_the_host_and_its_readiness() -> None:
    eps = slice_object(H1, False, NOW)
    assert eps["metadata"]["name"] == "kube-dns-h1"
    assert eps["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"
    assert eps["endpoints"] == [{"addresses": ["10.77.0.11"], "nodeName": "h1",
                                 "conditions": {"ready": False, "serving": False, "terminating": False}}]
    assert [p["name"] for p in eps["ports"]] == ["dns", "dns-tcp", "metrics"]


def test_peers_that_stop_renewing_are_marked_not_ready() -> None:
    fresh = slice_object(H2, True, NOW - dt.timedelta(seconds=10))
    stale = slice_object(H2, True, NOW - dt.timedelta(seconds=90))
    own_stale = slice_object(H1, True, NOW - dt.timedelta(seconds=90))
    already = slice_object(H2, False, NOW - dt.timedelta(seconds=90))
    unmanaged = {"kubernetes.io/service-name": "kube-dns"}
    foreign = {**stale, "metadata": {**stale["metadata"], "labels": unmanaged}}
    assert stale_peers([fresh, own_stale, already, foreign], "kube-dns-h1", NOW, 40) == []
    (dead,) = stale_peers([stale], "kube-dns-h1", NOW, 40)
    assert dead["endpoints"][0]["conditions"]["ready"] is False
    assert dead["endpoints"][0]["addresses"] == ["10.77.0.12"]


class _SliceStore:
    """The few ApiClient calls the publisher makes, over a dict (no API server)."""

    def __init__(self, on_write: Callable[[], None]) -> None:
        self.slices: dict[str, dict[str, Any]] = {}
        self.writes: list[bool] = []
        self.on_write = on_write

    async def get(self, _res: Any, name: str, _ns: str) -> dict[str, Any]:
        if name not in self.slices:
            raise NotFound(404, "NotFound", f"{name} not found")
        return self.slices[name]

    async def create(self, _res: Any, obj: dict[str, Any], _ns: str) -> dict[str, Any]:
        return self._write(obj)

    async def update(self, _res: Any, obj: dict[str, Any]) -> dict[str, Any]:
        return self._write(obj)

    async def list_all(self, _res: Any, _ns: str, label_selector: str = "") -> tuple[list[Any], str]:
        return list(self.slices.values()), "1"

    def _write(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.slices[obj["metadata"]["name"]] = obj
        self.writes.append(obj["endpoints"][0]["conditions"]["ready"])
        self.on_write()
        return obj


def test_readiness_reached_during_a_write_is_published_at_once_not_a_renewal_later() -> None:
    """A restarted server publishes "not ready", then syncs; if the sync lands while that
    write is on its way, the next write must follow within a poll, not after renew_s
    (seen on a lab: two of three servers stayed not ready for a whole renewal period)."""
    synced = {"now": False}
    store = _SliceStore(on_write=lambda: synced.update(now=True))
    opts = PublishOptions(node_name="h1", address="10.77.0.11", renew_s=30.0)
    publisher = Publisher(store, opts, lambda: synced["now"])  # type: ignore[arg-type]

    async def scenario() -> None:
        task = asyncio.create_task(publisher.run())
        await asyncio.sleep(1.0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert store.writes[:2] == [False, True]
