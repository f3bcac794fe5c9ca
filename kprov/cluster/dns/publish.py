"""The kube-dns Service and its endpoints, kept by the DNS servers themselves.

Design: the servers run as systemd units on the control-plane hosts (no image to build,
no scheduling to wait for, up before any pod needs a name), behind the conventional
``kube-system/kube-dns`` Service (ClusterIP = the 10th address of the service CIDR) that
has **no selector**: each server publishes its own EndpointSlice ``kube-dns-<node>``
(its host address, UDP+TCP 53 and metrics 9153), so kube-proxy routes the ClusterIP to the
hosts like any Service.

- The server creates the Service if it is missing (never changes one that exists).
- Its slice says ``ready`` only once the index is synced. It is written only when what it
  says changes, and deleted on an orderly shutdown.
- Liveness is a Lease of the same name in kube-system, renewed every ``renew_s``. A host
  that dies (or a server that hangs) cannot withdraw its slice, so every server marks
  peers' slices not ready when their Lease is older than ``stale_s``; kube-proxy then stops
  sending them queries and resolution continues on the survivors. A peer that comes back
  renews its Lease and sets its own slice ready again.

Why a Lease, not the slice: the servers used to renew the slice itself (a time in an
annotation) every 5 s. Every such write went to every kube-proxy and DNS server watching
EndpointSlices, on an idle cluster: measured on a 5-host lab, stopping the three servers cut
the cluster's idle CPU from 187 to 129 ms/s. A Lease is watched only by the servers (and the
controller manager's lease informer). The old annotation is still read, so an upgraded
server does not mark a peer that is not upgraded yet dead; the reverse happens until the
rolling upgrade reaches that peer (its old code marks the upgraded servers not ready, and
they set themselves ready again at their next round).

The servers read the Service, the slices and the peers' Leases from their informers' caches
(:class:`Cache`); an API read happens only when a cache does not have the object yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kprov.cluster.client.errors import AlreadyExists, ApiError, Conflict, NotFound
from kprov.cluster.client.lease_renewal import renew_lease
from kprov.cluster.client.resources import ENDPOINTSLICES, LEASES, SERVICES
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.client.timeutil import format_micro_time, parse_time

__all__ = ["LEASE_SELECTOR", "MANAGED_BY", "Cache", "Publisher", "PublishOptions", "lease_object",
           "service_object", "slice_object", "stale_peers"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "kprov-dns"
LEASE_LABEL = "app.kubernetes.io/managed-by"
LEASE_SELECTOR = f"{LEASE_LABEL}={MANAGED_BY}"
RENEW_ANNOTATION = "kprov.io/renew-time"  # written by servers before the Lease; still read
PORTS = (("dns", "UDP", 53), ("dns-tcp", "TCP", 53), ("metrics", "TCP", 9153))


class Cache(Protocol):
    """What the publisher reads from an informer's store (``namespace/name`` keys)."""

    def get(self, key: str) -> Obj | None: ...

    def items(self) -> list[Obj]: ...


@dataclass(frozen=True)
class PublishOptions:
    node_name: str
    address: str
    cluster_ip: str = ""  # "" : do not create the Service
    namespace: str = "kube-system"
    service: str = "kube-dns"
    renew_s: float = 5.0
    stale_s: float = 20.0  # 4 missed renewals: short, since stub resolvers stick to one backend


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def service_object(opts: PublishOptions) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": opts.service, "namespace": opts.namespace,
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "kprov-dns",
                                "kubernetes.io/cluster-service": "true"}},
        "spec": {"type": "ClusterIP", "clusterIP": opts.cluster_ip,
                 "ports": [{"name": n, "protocol": p, "port": port, "targetPort": port}
                           for n, p, port in PORTS]},
    }


def slice_name(opts: PublishOptions) -> str:
    return f"{opts.service}-{opts.node_name}".lower()[:63]


def slice_object(opts: PublishOptions, ready: bool) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": slice_name(opts), "namespace": opts.namespace,
                     "labels": {SERVICE_NAME_LABEL: opts.service, MANAGED_BY_LABEL: MANAGED_BY}},
        "addressType": "IPv6" if ":" in opts.address else "IPv4",
        "endpoints": [{"addresses": [opts.address], "nodeName": opts.node_name,
                       "conditions": {"ready": ready, "serving": ready, "terminating": False}}],
        "ports": [{"name": n, "protocol": p, "port": port} for n, p, port in PORTS],
    }


def lease_object(opts: PublishOptions, when: dt.datetime) -> Obj:
    """This server's liveness: renewed every ``renew_s``, stale after ``stale_s``."""
    return {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": slice_name(opts), "namespace": opts.namespace,
                     "labels": {LEASE_LABEL: MANAGED_BY}},
        "spec": {"holderIdentity": opts.node_name, "leaseDurationSeconds": round(opts.stale_s),
                 "renewTime": format_micro_time(when)},
    }


def _renewed(piece: Obj, lease: Obj | None) -> dt.datetime | None:
    """When the server behind ``piece`` last said it was alive: its Lease's renewTime, or
    the annotation servers wrote before there was a Lease, whichever is later."""
    stamps = [
        parse_time(((lease or {}).get("spec") or {}).get("renewTime")),
        parse_time(((piece.get("metadata") or {}).get("annotations") or {}).get(RENEW_ANNOTATION)),
    ]
    known = [s for s in stamps if s is not None]
    return max(known) if known else None


def stale_peers(slices: list[Obj], leases: Mapping[str, Obj], own: str, now: dt.datetime,
                stale_s: float) -> list[Obj]:
    """Peers' slices (managed by kprov-dns) still ready although their server has not
    renewed for ``stale_s`` (``leases`` by name), returned with their endpoints turned not
    ready (ready for an update)."""
    out = []
    for s in slices:
        meta = s.get("metadata") or {}
        name = meta.get("name", "")
        if name == own or (meta.get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY:
            continue
        renewed = _renewed(s, leases.get(name))
        if renewed is not None and (now - renewed).total_seconds() <= stale_s:
            continue
        endpoints = s.get("endpoints") or []
        if not any((e.get("conditions") or {}).get("ready") for e in endpoints):
            continue
        dead = [{**e, "conditions": {**(e.get("conditions") or {}), "ready": False, "serving": False}}
                for e in endpoints]
        out.append({**s, "endpoints": dead})
    return out


def _same(current: Obj, wanted: Obj) -> bool:
    return all(current.get(k) == wanted[k] for k in ("addressType", "endpoints", "ports")) and (
        (current.get("metadata") or {}).get("labels") == wanted["metadata"]["labels"])


class Publisher:
    def __init__(self, client: ApiClient, opts: PublishOptions, ready: Callable[[], bool],
                 services: Cache, slices: Cache, leases: Cache, peers_known: Callable[[], bool]) -> None:
        """``ready``: whether this server answers for the cluster (its index synced);
        ``peers_known``: whether the slices and Leases caches have listed."""
        self.client, self.opts, self.ready = client, opts, ready
        self.services, self.slices, self.leases = services, slices, leases
        self.peers_known = peers_known
        self._lease: Obj | None = None

    def _key(self, name: str) -> str:
        return f"{self.opts.namespace}/{name}"

    async def ensure_service(self) -> None:
        if not self.opts.cluster_ip or self.services.get(self._key(self.opts.service)) is not None:
            return
        with contextlib.suppress(AlreadyExists, Conflict):
            try:
                await self.client.get(SERVICES, self.opts.service, self.opts.namespace)
            except NotFound:
                await self.client.create(SERVICES, service_object(self.opts), self.opts.namespace)
                log.info("created Service %s/%s (%s)", self.opts.namespace, self.opts.service,
                         self.opts.cluster_ip)

    async def _ensure_slice(self, wanted: Obj) -> None:
        """Write this server's slice if it is missing or says something else (two tries: a
        cache a moment behind our own last write gives a conflict, then the fresh copy)."""
        name = wanted["metadata"]["name"]
        current = self.slices.get(self._key(name))
        for _ in range(2):
            if current is None:
                try:
                    current = await self.client.get(ENDPOINTSLICES, name, self.opts.namespace)
                except NotFound:
                    with contextlib.suppress(AlreadyExists):
                        await self.client.create(ENDPOINTSLICES, wanted, self.opts.namespace)
                    return
            if _same(current, wanted):
                return
            meta = {**current["metadata"], "labels": wanted["metadata"]["labels"]}
            try:
                await self.client.update(ENDPOINTSLICES, {**current, **wanted, "metadata": meta})
                return
            except Conflict:
                current = None

    def _service_slices(self) -> list[Obj]:
        def belongs(meta: Obj) -> bool:
            labels = meta.get("labels") or {}
            return (meta.get("namespace") == self.opts.namespace
                    and labels.get(SERVICE_NAME_LABEL) == self.opts.service)

        return [s for s in self.slices.items() if belongs(s.get("metadata") or {})]

    async def publish(self) -> bool:
        """Renew the Lease, write this server's slice if it changed (and retire stale
        peers); the readiness it published."""
        now = _now()
        ready = self.ready()
        try:  # first, so no peer sees this slice ready before its Lease exists
            self._lease = await renew_lease(self.client, lease_object(self.opts, now), self._lease)
        except ApiError as exc:  # e.g. a Role edited by hand: the slice is still kept
            log.warning("renewing Lease %s: %s", slice_name(self.opts), exc)
        wanted = slice_object(self.opts, ready)
        await self._ensure_slice(wanted)
        if not self.peers_known():  # before the caches listed, every peer would look silent
            return ready
        leases = {(lease.get("metadata") or {}).get("name", ""): lease for lease in self.leases.items()}
        for dead in stale_peers(self._service_slices(), leases, wanted["metadata"]["name"], now,
                                self.opts.stale_s):
            with contextlib.suppress(Conflict, NotFound):
                await self.client.update(ENDPOINTSLICES, dead)
                log.warning("peer %s stopped renewing: marked not ready", dead["metadata"]["name"])
        return ready

    async def run(self) -> None:
        published_ready = None
        while True:
            try:
                await self.ensure_service()
                # what was written, not what is true now: an index that synced while the
                # write was on its way must be published at once, not a renewal later
                published_ready = await self.publish()
            except ApiError as exc:
                log.warning("publishing kube-dns endpoints: %s", exc)
            except (OSError, TimeoutError) as exc:
                log.warning("publishing kube-dns endpoints: %s", exc)
            waited = 0.0
            while waited < self.opts.renew_s:  # a readiness change is published at once
                await asyncio.sleep(0.2)
                waited += 0.2
                if published_ready is not None and self.ready() != published_ready:
                    break

    async def withdraw(self) -> None:
        for res in (ENDPOINTSLICES, LEASES):
            with contextlib.suppress(ApiError, OSError, TimeoutError):
                await self.client.delete(res, slice_name(self.opts), self.opts.namespace)
