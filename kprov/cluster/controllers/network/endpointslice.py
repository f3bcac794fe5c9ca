"""EndpointSlices: for each Service with a selector, discovery.k8s.io/v1 slices labelled
``kubernetes.io/service-name`` and managed-by ``endpointslice-controller.k8s.io``, one per
distinct port set, each endpoint with its ready/serving/terminating conditions. A managed
slice that is deleted or changed by someone else re-queues its Service, so it is made again
(as upstream's controller does). A slice's creation re-queues its Service as well. The slices
the controller wrote are tracked (:mod:`.endpointslice_tracker`): a Service is not synced
while the cache lags behind them, so no slice is made twice or rewritten for another port.
Slices are per address family too (``addressType``, immutable on a slice): one set for each of
the Service's ``ipFamilies``, each pod by its address of that family."""

from __future__ import annotations

import contextlib

from kprov.cluster.api.objects import new_controller_ref
from kprov.cluster.client.errors import NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import ENDPOINTSLICES, PODS, SERVICES
from kprov.cluster.client.store import index_by_namespace
from kprov.cluster.controllers.base import Controller, Obj
from kprov.cluster.controllers.network.endpointslice_tracker import SliceTracker
from kprov.cluster.controllers.network.service_pods import endpoints_for, service_address_families

__all__ = ["EndpointSliceController", "desired_slices"]

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"
STALE_RETRY_S = 1.0
HEADLESS = "service.kubernetes.io/headless"


def _service_key(obj: Obj) -> list[str]:
    name = ((obj.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME)
    return [f"{obj['metadata'].get('namespace')}/{name}"] if name else []


def desired_slices(service: Obj, pods: list[Obj], family: str = "IPv4",
                   ) -> dict[tuple[tuple[str, int, str], ...], list[Obj]]:
    """Endpoints of one address family grouped by resolved port set."""
    groups: dict[tuple[tuple[str, int, str], ...], list[Obj]] = {}
    for ep in sorted(endpoints_for(service, pods, family), key=lambda e: e.ip):
        entry: Obj = {
            "addresses": [ep.ip],
            "conditions": {
                "ready": ep.ready,
                "serving": ep.serving,
                "terminating": ep.terminating,
            },
            "targetRef": ep.target_ref(),
        }
        pod_spec = ep.pod.get("spec") or {}
        service_name = (service.get("metadata") or {}).get("name")
        if pod_spec.get("hostname") and pod_spec.get("subdomain") == service_name:
            entry["hostname"] = pod_spec["hostname"]  # the DNS name <hostname>.<svc>.<ns>.svc (StatefulSets)
        node = pod_spec.get("nodeName")
        if node:
            entry["nodeName"] = node
        groups.setdefault(ep.ports, []).append(entry)
    return groups


def _ports(ports: tuple[tuple[str, int, str], ...]) -> list[Obj]:
    return [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports]


class EndpointSliceController(Controller):
    name = "endpointslice"
    identity = "endpointslice-controller"

    def setup(self) -> None:
        self.services = self.ctx.informers.get(SERVICES, {"namespace": index_by_namespace})
        self.pods = self.ctx.informers.get(PODS, {"namespace": index_by_namespace})
        self.slices = self.ctx.informers.get(ENDPOINTSLICES, {"service": _service_key})
        self.services.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), self.enqueue))
        self.pods.add_handler(EventHandler(self._pod, self._pod_update, self._pod))
        # every slice event re-queues its Service, its creations too: a reconcile that ran on a
        # cache without the slice it had just created makes a second one for the same port set,
        # and only a reconcile that sees both removes it (the multiport conformance spec saw
        # pod1 in two slices for minutes); a reconcile after an own create is a no-op compare
        self.slices.add_handler(EventHandler(self._slice, lambda _o, n: self._slice(n), self._slice_gone))
        self.tracker = SliceTracker()

    def _slice(self, obj: Obj) -> None:
        if ((obj.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY) != CONTROLLER:
            return
        for key in _service_key(obj):
            self.queue.add(key)

    def _slice_gone(self, obj: Obj) -> None:
        for key in _service_key(obj):
            self.tracker.observed_deletion(key, obj["metadata"].get("name", ""))
        self._slice(obj)

    def _pod_update(self, old: Obj, new: Obj) -> None:
        self._pod(old)
        self._pod(new)

    def _pod(self, pod: Obj) -> None:
        labels = pod["metadata"].get("labels") or {}
        for svc in self.services.store.by_index("namespace", pod["metadata"].get("namespace")):
            selector = (svc.get("spec") or {}).get("selector") or {}
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                self.enqueue(svc)

    async def reconcile(self, key: str) -> float | None:
        ns, _, name = key.partition("/")
        svc = self.services.store.get(key)
        existing = [
            s
            for s in self.slices.store.by_index("service", key)
            if (s["metadata"].get("labels") or {}).get(MANAGED_BY) == CONTROLLER
        ]
        if self.tracker.stale(key, existing):
            return STALE_RETRY_S  # the slice events on their way re-queue it too
        if svc is None or not (svc.get("spec") or {}).get("selector"):
            for s in existing:
                self.tracker.deleting(key, s["metadata"]["name"])
                with contextlib.suppress(NotFound):
                    await self.client.delete(ENDPOINTSLICES, s["metadata"]["name"], ns)
            if svc is None:
                self.tracker.forget(key)
            return None
        pods = self.pods.store.by_index("namespace", ns)
        families = service_address_families(svc)
        wanted = {(f, ports): eps for f in families for ports, eps in desired_slices(svc, pods, f).items()}
        if not wanted:
            wanted = {(families[0], ()): []}  # an empty slice still tells consumers "no endpoints"
        labels = {**(svc["metadata"].get("labels") or {}), SERVICE_NAME: name, MANAGED_BY: CONTROLLER}
        if (svc.get("spec") or {}).get("clusterIP") == "None":
            labels[HEADLESS] = ""  # upstream's mark: kube-proxy does not list these
        else:
            labels.pop(HEADLESS, None)
        unused = list(existing)
        for (family, ports), endpoints in wanted.items():
            same_family = [s for s in unused if s.get("addressType", "IPv4") == family]
            match = next((s for s in same_family if s.get("ports") == _ports(ports)), None) or (
                same_family[0] if same_family else None
            )
            body = {"addressType": family, "endpoints": endpoints, "ports": _ports(ports)}
            if match is None:
                meta = {
                    "generateName": f"{name}-",
                    "namespace": ns,
                    "labels": labels,
                    "ownerReferences": [new_controller_ref(svc)],
                }
                self.tracker.wrote(key, await self.client.create(ENDPOINTSLICES, {"metadata": meta, **body}))
                continue
            unused.remove(match)
            if all(match.get(k) == v for k, v in body.items()) and match["metadata"].get("labels") == labels:
                continue
            self.tracker.wrote(key, await self.client.update(
                ENDPOINTSLICES, {**match, **body, "metadata": {**match["metadata"], "labels": labels}}
            ))
        for s in unused:
            self.tracker.deleting(key, s["metadata"]["name"])
            with contextlib.suppress(NotFound):
                await self.client.delete(ENDPOINTSLICES, s["metadata"]["name"], ns)
        return None
