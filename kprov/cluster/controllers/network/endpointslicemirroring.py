"""EndpointSlice mirroring: Endpoints that someone wrote for a Service without a selector (a
hand-made backend list, another controller's) become discovery.k8s.io/v1 EndpointSlices, so
every slice consumer (kube-proxy, the cluster DNS) sees them, as upstream's
endpointslicemirroring controller does.

For each Endpoints whose Service exists and has no selector, and that is not labelled
``endpointslice.kubernetes.io/skip-mirror=true`` (the API server's own ``kubernetes``
Endpoints are): one slice per (port set, address family), labelled
``kubernetes.io/service-name`` and managed-by ``endpointslicemirroring-controller.k8s.io``
plus the Endpoints' own labels, carrying its annotations (not the trigger time or kubectl's
last-applied), owned by the Endpoints. ``addresses`` become ready endpoints,
``notReadyAddresses`` not ready ones, each with its hostname, nodeName and targetRef;
addresses that are not IPs are skipped, and a subset mirrors at most 1,000 addresses.
Deleting the Endpoints, its Service, or giving the Service a selector deletes the slices;
a mirrored slice someone changes or deletes is made again.
"""

from __future__ import annotations

import contextlib
import ipaddress

from kprov.cluster.client.errors import NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import ENDPOINTS, ENDPOINTSLICES, SERVICES
from kprov.cluster.controllers.base import Controller, Obj

__all__ = ["CONTROLLER", "EndpointSliceMirroringController", "SKIP_MIRROR", "mirrored_slices"]

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslicemirroring-controller.k8s.io"
SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
MAX_ADDRESSES_PER_SUBSET = 1000
_NOT_COPIED_ANNOTATIONS = ("endpoints.kubernetes.io/last-change-trigger-time",
                           "kubectl.kubernetes.io/last-applied-configuration")

PortKey = tuple[tuple[str, int, str, str], ...]


def _labels(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _mirrored(obj: Obj) -> bool:
    """A slice this controller made: its label, and owned by an Endpoints (the API server's
    own ``kubernetes`` slice of older kprov versions carried the label but has no owner)."""
    return _labels(obj).get(MANAGED_BY) == CONTROLLER and any(
        ref.get("kind") == "Endpoints" for ref in (obj.get("metadata") or {}).get("ownerReferences") or [])


def _service_key(obj: Obj) -> list[str]:
    name = _labels(obj).get(SERVICE_NAME)
    return [f"{obj['metadata'].get('namespace')}/{name}"] if name else []


def _address_type(ip: str) -> str | None:
    try:
        return "IPv4" if ipaddress.ip_address(ip).version == 4 else "IPv6"
    except ValueError:
        return None


def _port_key(subset: Obj) -> PortKey:
    return tuple(
        (p.get("name") or "", int(p.get("port") or 0), p.get("protocol") or "TCP", p.get("appProtocol") or "")
        for p in subset.get("ports") or []
    )


def _ports(key: PortKey) -> list[Obj]:
    ports = []
    for name, port, protocol, app_protocol in key:
        entry: Obj = {"name": name, "port": port, "protocol": protocol}
        if app_protocol:
            entry["appProtocol"] = app_protocol
        ports.append(entry)
    return ports


def _endpoint(address: Obj, ready: bool) -> Obj:
    endpoint: Obj = {"addresses": [address["ip"]], "conditions": {"ready": ready}}
    for field in ("hostname", "nodeName", "targetRef"):
        if address.get(field):
            endpoint[field] = address[field]
    return endpoint


def mirrored_slices(endpoints: Obj) -> dict[tuple[PortKey, str], list[Obj]]:
    """The slices' contents an Endpoints object mirrors to, by (port set, address type)."""
    groups: dict[tuple[PortKey, str], list[Obj]] = {}
    seen: set[tuple[PortKey, str]] = set()
    for subset in endpoints.get("subsets") or []:
        ports = _port_key(subset)
        listed = [(a, True) for a in subset.get("addresses") or []]
        listed += [(a, False) for a in subset.get("notReadyAddresses") or []]
        for address, ready in listed[:MAX_ADDRESSES_PER_SUBSET]:
            family = _address_type(str(address.get("ip") or ""))
            if family is None or (ports, address["ip"]) in seen:
                continue
            seen.add((ports, address["ip"]))
            groups.setdefault((ports, family), []).append(_endpoint(address, ready))
    return groups


class EndpointSliceMirroringController(Controller):
    name = "endpointslicemirroring"
    identity = "endpointslicemirroring-controller"

    def setup(self) -> None:
        self.endpoints = self.ctx.informers.get(ENDPOINTS)
        self.services = self.ctx.informers.get(SERVICES)
        self.slices = self.ctx.informers.get(ENDPOINTSLICES, {"service": _service_key})
        for informer in (self.endpoints, self.services):
            informer.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), self.enqueue))
        self.slices.add_handler(EventHandler(None, lambda _o, n: self._slice(n), self._slice))

    def _slice(self, obj: Obj) -> None:
        if _mirrored(obj):
            for key in _service_key(obj):
                self.queue.add(key)

    async def reconcile(self, key: str) -> float | None:
        ns, _, name = key.partition("/")
        endpoints, service = self.endpoints.store.get(key), self.services.store.get(key)
        unused = [s for s in self.slices.store.by_index("service", key) if _mirrored(s)]
        mirrors = (endpoints is not None and service is not None
                   and not (service.get("spec") or {}).get("selector")
                   and _labels(endpoints).get(SKIP_MIRROR) != "true")
        if mirrors and endpoints is not None:
            for (ports, family), members in mirrored_slices(endpoints).items():
                body = {"addressType": family, "endpoints": members, "ports": _ports(ports)}
                same_family = [s for s in unused if s.get("addressType") == family]
                match = next((s for s in same_family if s.get("ports") == body["ports"]), None) or (
                    same_family[0] if same_family else None)
                if match is not None:
                    unused.remove(match)
                await self._write(endpoints, ns, name, body, match)
        for stale in unused:
            with contextlib.suppress(NotFound):
                await self.client.delete(ENDPOINTSLICES, stale["metadata"]["name"], ns)
        return None

    async def _write(self, endpoints: Obj, ns: str, name: str, body: Obj, match: Obj | None) -> None:
        meta = endpoints["metadata"]
        labels = {**_labels(endpoints), SERVICE_NAME: name, MANAGED_BY: CONTROLLER}
        annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                       if k not in _NOT_COPIED_ANNOTATIONS}
        if match is None:
            owner = {"apiVersion": "v1", "kind": "Endpoints", "name": meta["name"], "uid": meta.get("uid"),
                     "controller": True, "blockOwnerDeletion": True}
            new_meta: Obj = {"generateName": f"{name}-", "namespace": ns, "labels": labels,
                             "ownerReferences": [owner]}
            if annotations:
                new_meta["annotations"] = annotations
            await self.client.create(ENDPOINTSLICES, {"metadata": new_meta, **body})
            return
        match_meta = match["metadata"]
        if (all(match.get(k) == v for k, v in body.items()) and match_meta.get("labels") == labels
                and (match_meta.get("annotations") or {}) == annotations):
            return
        updated_meta = {**match_meta, "labels": labels, "annotations": annotations}
        if not annotations:
            del updated_meta["annotations"]
        await self.client.update(ENDPOINTSLICES, {**match, **body, "metadata": updated_meta})
