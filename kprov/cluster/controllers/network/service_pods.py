"""What Endpoints and EndpointSlices are built from: a Service's selected pods and the
port each of its ports resolves to on each pod (a number, or a named container port)."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.selectors import label_selector_from_object
from kprov.cluster.controllers.workloads.pods import is_ready

__all__ = ["PodEndpoint", "endpoints_for", "pod_ip_of_family", "resolve_target_port", "selected_pods",
           "service_address_families"]

Obj = dict[str, Any]


def resolve_target_port(service_port: Obj, pod: Obj) -> int | None:
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def selected_pods(service: Obj, namespace_pods: list[Obj]) -> list[Obj]:
    selector = (service.get("spec") or {}).get("selector")
    if not selector:
        return []
    match = label_selector_from_object({"matchLabels": selector})
    return [p for p in namespace_pods if match.matches((p.get("metadata") or {}).get("labels"))]


class PodEndpoint:
    """One pod's address with its resolved ports (name, port, protocol) and its EndpointSlice
    conditions as upstream derives them: ``serving`` is the pod's Ready condition whether or not
    it is terminating; ``ready`` is serving and not terminating (or publishNotReadyAddresses)."""

    __slots__ = ("ip", "pod", "ports", "ready", "serving", "terminating")

    def __init__(
        self, pod: Obj, ip: str, ports: tuple[tuple[str, int, str], ...], ready: bool, terminating: bool,
        serving: bool,
    ) -> None:
        self.pod, self.ip, self.ports, self.ready, self.terminating = pod, ip, ports, ready, terminating
        self.serving = serving

    def target_ref(self) -> Obj:
        meta = self.pod["metadata"]
        return {
            "kind": "Pod",
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid", ""),
        }


def _family(ip: str) -> str:
    return "IPv6" if ":" in ip else "IPv4"


def service_address_families(service: Obj) -> list[str]:
    """The address families a Service's endpoints are published in, as upstream's
    EndpointSlice controller reads them: ``ipFamilies``; for an object from before they were
    defaulted, the family of ``clusterIP``, or both for a headless one."""
    spec = service.get("spec") or {}
    families = [f for f in spec.get("ipFamilies") or [] if f in ("IPv4", "IPv6")]
    if families:
        return families
    ip = spec.get("clusterIP") or ""
    if ip and ip != "None":
        return [_family(ip)]
    return ["IPv4", "IPv6"]


def pod_ip_of_family(pod: Obj, family: str | None) -> str:
    """The pod's address of ``family`` (``status.podIPs``, ``podIP`` the first), or "";
    ``family`` None: the primary address whatever its family."""
    status = pod.get("status") or {}
    ips = [entry.get("ip") or "" for entry in status.get("podIPs") or []] or [status.get("podIP") or ""]
    if family is None:
        return status.get("podIP") or ips[0]
    return next((ip for ip in ips if ip and _family(ip) == family), "")


def endpoints_for(service: Obj, namespace_pods: list[Obj], family: str | None = None) -> list[PodEndpoint]:
    """The selected pods' endpoints, each pod by its address of ``family`` (pods without one
    left out); ``family`` None: by the primary address."""
    spec = service.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    out = []
    for pod in selected_pods(service, namespace_pods):
        ip = pod_ip_of_family(pod, family)
        if not ip or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        ports = []
        for sp in spec.get("ports") or []:
            port = resolve_target_port(sp, pod)
            if port is not None:
                ports.append((sp.get("name") or "", port, sp.get("protocol") or "TCP"))
        serving = is_ready(pod)
        ready = (serving and not terminating) or publish_not_ready
        out.append(PodEndpoint(pod, ip, tuple(ports), ready, terminating, serving))
    return out
