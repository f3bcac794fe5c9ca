"""Endpoints: for each Service with a selector, an Endpoints object of the same name whose
subsets list the ready pod IPs (``addresses``) and the others (``notReadyAddresses``),
grouped by the set of ports they resolve to (named targetPorts can differ per pod). A
dual-stack Service's Endpoints keep its primary family only (the family of ``clusterIP``, or
``ipFamilies[0]`` when headless), as upstream's; EndpointSlices carry both."""

from __future__ import annotations

import contextlib

from kprov.cluster.client.errors import AlreadyExists, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import ENDPOINTS, PODS, SERVICES
from kprov.cluster.client.store import index_by_namespace
from kprov.cluster.controllers.base import Controller, Obj
from kprov.cluster.controllers.network.service_pods import endpoints_for

__all__ = ["EndpointsController", "build_subsets", "primary_family"]

HEADLESS = "service.kubernetes.io/headless"


def primary_family(service: Obj) -> str | None:
    spec = service.get("spec") or {}
    ip = spec.get("clusterIP") or ""
    if ip and ip != "None":
        return "IPv6" if ":" in ip else "IPv4"
    families = spec.get("ipFamilies") or []
    return str(families[0]) if families else None


def build_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    groups: dict[tuple[tuple[str, int, str], ...], Obj] = {}
    for ep in sorted(endpoints_for(service, pods, primary_family(service)), key=lambda e: e.ip):
        subset = groups.setdefault(ep.ports, {})
        address = {"ip": ep.ip, "targetRef": ep.target_ref()}
        node = (ep.pod.get("spec") or {}).get("nodeName")
        if node:
            address["nodeName"] = node
        subset.setdefault("addresses" if ep.ready else "notReadyAddresses", []).append(address)
    subsets = []
    for ports, subset in groups.items():
        subset["ports"] = [
            {"name": n, "port": p, "protocol": proto} if n else {"port": p, "protocol": proto}
            for n, p, proto in ports
        ]
        subsets.append(subset)
    return subsets


class EndpointsController(Controller):
    name = "endpoints"
    identity = "endpoint-controller"

    def setup(self) -> None:
        self.services = self.ctx.informers.get(SERVICES, {"namespace": index_by_namespace})
        self.pods = self.ctx.informers.get(PODS, {"namespace": index_by_namespace})
        self.endpoints = self.ctx.informers.get(ENDPOINTS)
        self.services.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), self.enqueue))
        self.pods.add_handler(EventHandler(self._pod, self._pod_update, self._pod))

    def _pod_update(self, old: Obj, new: Obj) -> None:
        self._pod(old)
        self._pod(new)

    def _pod(self, pod: Obj) -> None:
        ns = pod["metadata"].get("namespace")
        labels = pod["metadata"].get("labels") or {}
        for svc in self.services.store.by_index("namespace", ns):
            selector = (svc.get("spec") or {}).get("selector") or {}
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                self.enqueue(svc)

    async def reconcile(self, key: str) -> float | None:
        ns, _, name = key.partition("/")
        svc = self.services.store.get(key)
        if svc is None:
            with contextlib.suppress(NotFound):
                if self.endpoints.store.get(key) is not None:
                    await self.client.delete(ENDPOINTS, name, ns)
            return None
        if not (svc.get("spec") or {}).get("selector"):
            return None  # endpoints of selector-less services are managed by hand
        subsets = build_subsets(svc, self.pods.store.by_index("namespace", ns))
        labels = dict(svc["metadata"].get("labels") or {})
        if (svc.get("spec") or {}).get("clusterIP") == "None":
            labels[HEADLESS] = ""  # upstream's mark: kube-proxy does not list these
        else:
            labels.pop(HEADLESS, None)
        current = self.endpoints.store.get(key)
        if current is None:
            body = {"metadata": {"name": name, "namespace": ns, "labels": labels}, "subsets": subsets}
            try:
                await self.client.create(ENDPOINTS, body)
            except AlreadyExists:
                current = await self.client.get(ENDPOINTS, name, ns)
            else:
                return None
        if (current.get("subsets") or []) == subsets and (current["metadata"].get("labels") or {}) == labels:
            return None
        await self.client.update(
            ENDPOINTS, {**current, "metadata": {**current["metadata"], "labels": labels}, "subsets": subsets}
        )
        return None
