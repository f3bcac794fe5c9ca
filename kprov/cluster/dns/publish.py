"""The kube-dns Service and its endpoints, kept by the DNS servers themselves.

Design: the servers run as systemd units on the control-plane hosts (no image to build,
no scheduling to wait for, up before any pod needs a name), behind the conventional
``kube-system/kube-dns`` Service (ClusterIP = the 10th address of the service CIDR) that
has **no selector**: each server publishes its own EndpointSlice ``kube-dns-<node>``
(its host address, UDP+TCP 53 and metrics 9153), so kube-proxy routes the ClusterIP to the
hosts like any Service.

- The server creates the Service if it is missing (never changes one that exists).
- Its slice says ``ready`` only once the index is synced; it is renewed every
  ``renew_s`` with the time in an annotation, and deleted on an orderly shutdown.
- A host that dies cannot withdraw its slice, so every server also marks peers' slices
  not ready when their renew time is older than ``stale_s``; kube-proxy then stops
  sending them queries and resolution continues on the survivors. A peer that comes back
  renews its own slice to ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kprov.cluster.client.errors import AlreadyExists, ApiError, Conflict, NotFound
from kprov.cluster.client.resources import ENDPOINTSLICES, SERVICES
from kprov.cluster.client.rest import ApiClient

__all__ = ["MANAGED_BY", "Publisher", "PublishOptions", "service_object", "slice_object", "stale_peers"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "kprov-dns"
RENEW_ANNOTATION = "kprov.io/renew-time"
PORTS = (("dns", "UDP", 53), ("dns-tcp", "TCP", 53), ("metrics", "TCP", 9153))


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


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


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


def slice_object(opts: PublishOptions, ready: bool, when: dt.datetime) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": slice_name(opts), "namespace": opts.namespace,
                     "labels": {SERVICE_NAME_LABEL: opts.service, MANAGED_BY_LABEL: MANAGED_BY},
                     "annotations": {RENEW_ANNOTATION: _stamp(when)}},
        "addressType": "IPv6" if ":" in opts.address else "IPv4",
        "endpoints": [{"addresses": [opts.address], "nodeName": opts.node_name,
                       "conditions": {"ready": ready, "serving": ready, "terminating": False}}],
        "ports": [{"name": n, "protocol": p, "port": port} for n, p, port in PORTS],
    }


def _renewed(obj: Obj) -> dt.datetime | None:
    text = ((obj.get("metadata") or {}).get("annotations") or {}).get(RENEW_ANNOTATION)
    try:
        return dt.datetime.strptime(text or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def stale_peers(slices: list[Obj], own: str, now: dt.datetime, stale_s: float) -> list[Obj]:
    """Peers' slices (managed by kprov-dns) still ready although not renewed for ``stale_s``,
    returned with their endpoints turned not ready (ready for an update)."""
    out = []
    for s in slices:
        meta = s.get("metadata") or {}
        if meta.get("name") == own or (meta.get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY:
            continue
        renewed = _renewed(s)
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
    def __init__(self, client: ApiClient, opts: PublishOptions, ready: Callable[[], bool]) -> None:
        self.client, self.opts, self.ready = client, opts, ready

    async def ensure_service(self) -> None:
        if not self.opts.cluster_ip:
            return
        with contextlib.suppress(AlreadyExists, Conflict):
            try:
                await self.client.get(SERVICES, self.opts.service, self.opts.namespace)
            except NotFound:
                await self.client.create(SERVICES, service_object(self.opts), self.opts.namespace)
                log.info("created Service %s/%s (%s)", self.opts.namespace, self.opts.service,
                         self.opts.cluster_ip)

    async def publish(self) -> bool:
        """Write this server's slice (and retire stale peers); the readiness it wrote."""
        now = _now()
        ready = self.ready()
        wanted = slice_object(self.opts, ready, now)
        try:
            current = await self.client.get(ENDPOINTSLICES, wanted["metadata"]["name"], self.opts.namespace)
        except NotFound:
            await self.client.create(ENDPOINTSLICES, wanted, self.opts.namespace)
        else:
            meta = {**current["metadata"], "labels": wanted["metadata"]["labels"],
                    "annotations": {**(current["metadata"].get("annotations") or {}),
                                    **wanted["metadata"]["annotations"]}}
            await self.client.update(ENDPOINTSLICES, {**current, **wanted, "metadata": meta})
        peers, _ = await self.client.list_all(
            ENDPOINTSLICES, self.opts.namespace, label_selector=f"{SERVICE_NAME_LABEL}={self.opts.service}")
        for dead in stale_peers(peers, wanted["metadata"]["name"], now, self.opts.stale_s):
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
        with contextlib.suppress(ApiError, OSError, TimeoutError):
            await self.client.delete(ENDPOINTSLICES, slice_name(self.opts), self.opts.namespace)
