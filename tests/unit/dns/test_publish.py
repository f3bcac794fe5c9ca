"""The kube-dns Service and the servers' own EndpointSlices as data (no API)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Any

from kprov.cluster.client.errors import ApiError, NotFound
from kprov.cluster.client.resources import ENDPOINTSLICES
from kprov.cluster.dns.publish import (
    Publisher,
    PublishOptions,
    lease_object,
    service_object,
    slice_object,
    stale_peers,
)

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
    eps = slice_object(H1, False)
    assert eps["metadata"]["name"] == "kube-dns-h1"
    assert eps["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"
    assert eps["endpoints"] == [{"addresses": ["10.77.0.11"], "nodeName": "h1",
                                 "conditions": {"ready": False, "serving": False, "terminating": False}}]
    assert [p["name"] for p in eps["ports"]] == ["dns", "dns-tcp", "metrics"]
    assert "annotations" not in eps["metadata"]  # nothing in it changes while nothing happens


def _leases(*pairs: tuple[PublishOptions, float]) -> dict[str, dict[str, Any]]:
    """Leases by name, each renewed ``seconds`` before NOW."""
    out = {}
    for opts, seconds in pairs:
        lease = lease_object(opts, NOW - dt.timedelta(seconds=seconds))
        out[lease["metadata"]["name"]] = lease
    return out


def test_peers_whose_lease_went_stale_are_marked_not_ready() -> None:
    ready_h2, ready_h1 = slice_object(H2, True), slice_object(H1, True)
    not_ready = slice_object(H2, False)
    unmanaged = {"kubernetes.io/service-name": "kube-dns"}
    foreign = {**ready_h2, "metadata": {**ready_h2["metadata"], "labels": unmanaged}}
    assert stale_peers([ready_h2], _leases((H2, 10)), "kube-dns-h1", NOW, 40) == []
    assert stale_peers([ready_h1, not_ready, foreign], _leases((H1, 90)), "kube-dns-h1", NOW, 40) == []
    (dead,) = stale_peers([ready_h2], _leases((H2, 90)), "kube-dns-h1", NOW, 40)
    assert dead["endpoints"][0]["conditions"]["ready"] is False
    assert dead["endpoints"][0]["addresses"] == ["10.77.0.12"]
    (no_lease,) = stale_peers([ready_h2], {}, "kube-dns-h1", NOW, 40)
    assert no_lease["metadata"]["name"] == "kube-dns-h2"


def test_a_peer_not_yet_upgraded_is_alive_by_its_renew_annotation() -> None:
    """Servers before the Lease renewed a time in the slice; an upgraded server reads it."""
    old = slice_object(H2, True)
    stamp = (NOW - dt.timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old["metadata"]["annotations"] = {"kprov.io/renew-time": stamp}
    assert stale_peers([old], {}, "kube-dns-h1", NOW, 40) == []
    assert stale_peers([old], _leases((H2, 90)), "kube-dns-h1", NOW, 40) == []  # the later stamp counts


class _Cache:
    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        self.objects = objects

    def get(self, key: str) -> dict[str, Any] | None:
        return self.objects.get(key.split("/", 1)[1])

    def items(self) -> list[dict[str, Any]]:
        return list(self.objects.values())


class _Api:
    """The few ApiClient calls the publisher makes, over dicts (no API server); the slices
    dict doubles as the informer's cache, as if every watch event arrived at once."""

    def __init__(self, on_write: Callable[[], None]) -> None:
        self.slices: dict[str, dict[str, Any]] = {}
        self.leases: dict[str, dict[str, Any]] = {}
        self.writes: list[bool] = []
        self.lease_writes = 0
        self.on_write = on_write

    def _objects(self, res: Any) -> dict[str, dict[str, Any]]:
        return self.leases if res.plural == "leases" else self.slices

    async def get(self, res: Any, name: str, _ns: str) -> dict[str, Any]:
        if name not in self._objects(res):
            raise NotFound(404, "NotFound", f"{name} not found")
        return self._objects(res)[name]

    async def create(self, res: Any, obj: dict[str, Any], _ns: str) -> dict[str, Any]:
        return self._write(res, obj)

    async def update(self, res: Any, obj: dict[str, Any]) -> dict[str, Any]:
        return self._write(res, obj)

    def _write(self, res: Any, obj: dict[str, Any]) -> dict[str, Any]:
        self._objects(res)[obj["metadata"]["name"]] = obj
        if res.plural == "leases":
            self.lease_writes += 1
            return obj
        self.writes.append(obj["endpoints"][0]["conditions"]["ready"])
        self.on_write()
        return obj


def _publisher(api: _Api, opts: PublishOptions, ready: Callable[[], bool]) -> Publisher:
    return Publisher(api, opts, ready, _Cache({}), _Cache(api.slices), _Cache(api.leases),  # type: ignore[arg-type]
                     lambda: True)


def _run_for(publisher: Publisher, seconds: float) -> None:
    async def scenario() -> None:
        task = asyncio.create_task(publisher.run())
        await asyncio.sleep(seconds)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


def test_readiness_reached_during_a_write_is_published_at_once_not_a_renewal_later() -> None:
    """A restarted server publishes "not ready", then syncs; if the sync lands while that
    write is on its way, the next write must follow within a poll, not after renew_s
    (seen on a lab: two of three servers stayed not ready for a whole renewal period)."""
    synced = {"now": False}
    api = _Api(on_write=lambda: synced.update(now=True))
    _run_for(_publisher(api, PublishOptions(node_name="h1", address="10.77.0.11", renew_s=30.0),
                        lambda: synced["now"]), 1.0)
    assert api.writes[:2] == [False, True]


def test_an_unchanged_slice_is_not_rewritten_while_the_lease_is_renewed() -> None:
    api = _Api(on_write=lambda: None)
    _run_for(_publisher(api, PublishOptions(node_name="h1", address="10.77.0.11", renew_s=0.2),
                        lambda: True), 1.3)
    assert api.writes == [True]
    assert api.lease_writes >= 4
    assert api.leases["kube-dns-h1"]["spec"]["holderIdentity"] == "h1"


def test_a_lease_the_server_may_not_write_does_not_stop_its_slice() -> None:
    """A Role edited by hand (no leases): the server still publishes, and says why."""
    api = _Api(on_write=lambda: None)

    async def refuse(_res: Any, obj: dict[str, Any], _ns: str = "") -> dict[str, Any]:
        if obj.get("kind") == "Lease":
            raise ApiError(403, "Forbidden", 'leases.coordination.k8s.io is forbidden')
        return api._write(ENDPOINTSLICES, obj)

    api.create = refuse  # type: ignore[method-assign]
    _run_for(_publisher(api, PublishOptions(node_name="h1", address="10.77.0.11", renew_s=0.2),
                        lambda: True), 0.5)
    assert api.writes == [True] and not api.leases
