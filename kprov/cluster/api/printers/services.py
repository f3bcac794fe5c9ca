"""Table printers for services, endpoints, endpointslices and network policies (PORT(S),
EXTERNAL-IP, ENDPOINTS, POD-SELECTOR)."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.objects import get_path
from kprov.cluster.api.printers.columns import AGE, NAME, NONE, Age, Column, Printer, created, name_of
from kprov.cluster.api.selectors import SelectorError, label_selector_from_object

__all__ = ["ENDPOINTS", "ENDPOINTSLICE", "NETWORKPOLICY", "SERVICE"]

_MAX_SHOWN = 3


def _external_ip(spec: dict[str, Any], status: dict[str, Any]) -> str:
    kind = spec.get("type", "ClusterIP")
    external = list(spec.get("externalIPs") or [])
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else NONE
    if kind == "ExternalName":
        return str(spec.get("externalName", ""))
    ingress = [i.get("ip") or i.get("hostname") for i in get_path(status, "loadBalancer.ingress", []) or []]
    addresses = [a for a in ingress + external if a]
    return ",".join(addresses) if addresses else "<pending>"


def _ports(spec: dict[str, Any]) -> str:
    parts = []
    for port in spec.get("ports") or []:
        text = str(port.get("port"))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        parts.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) if parts else NONE


def _service_row(obj: dict[str, Any], age: Age) -> list[Any]:
    spec = obj.get("spec") or {}
    selector = spec.get("selector") or {}
    return [
        name_of(obj),
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or NONE,
        _external_ip(spec, obj.get("status") or {}),
        _ports(spec),
        created(obj, age),
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or NONE,
    ]


SERVICE = Printer(
    (
        NAME,
        Column("Type", description="The type of the service."),
        Column("Cluster-IP", description="The cluster IP of the service."),
        Column("External-IP", description="The external IPs of the service."),
        Column("Port(s)", description="The ports of the service."),
        AGE,
        Column(
            "Selector",
            description="Route service traffic to pods with label keys and values matching this selector.",
            priority=1,
        ),
    ),
    _service_row,
)


def _limited(items: list[str]) -> str:
    if not items:
        return NONE
    text = ",".join(items[:_MAX_SHOWN])
    if len(items) > _MAX_SHOWN:
        text += f" + {len(items) - _MAX_SHOWN} more..."
    return text


def _endpoints_row(obj: dict[str, Any], age: Age) -> list[Any]:
    items: list[str] = []
    for subset in obj.get("subsets") or []:
        ports = subset.get("ports") or []
        for address in subset.get("addresses") or []:
            if ports:
                items.extend(f"{address.get('ip')}:{port.get('port')}" for port in ports)
            else:
                items.append(str(address.get("ip")))
    return [name_of(obj), _limited(items), created(obj, age)]


ENDPOINTS = Printer((NAME, Column("Endpoints", description="Endpoints of the service."), AGE), _endpoints_row)


def _endpointslice_row(obj: dict[str, Any], age: Age) -> list[Any]:
    ports = [str(p.get("port")) if p.get("port") is not None else "<unset>" for p in obj.get("ports") or []]
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    return [
        name_of(obj),
        obj.get("addressType", ""),
        _limited(ports).replace(NONE, "<unset>") if ports else "<unset>",
        _limited(addresses) if addresses else "<unset>",
        created(obj, age),
    ]


ENDPOINTSLICE = Printer(
    (
        NAME,
        Column("AddressType", description="Type of address carried by this EndpointSlice."),
        Column("Ports", description="Port numbers of the endpoints in this slice."),
        Column("Endpoints", description="Addresses of the endpoints in this slice."),
        AGE,
    ),
    _endpointslice_row,
)


def _pod_selector(obj: dict[str, Any]) -> str:
    """metav1.FormatLabelSelector: the selector's string, `<none>` when it selects all."""
    try:
        text = str(label_selector_from_object(get_path(obj, "spec.podSelector", {}) or {}))
    except SelectorError:
        return "<error>"
    return text or NONE


NETWORKPOLICY = Printer(
    (
        NAME,
        Column("Pod-Selector", description="The pods this policy applies to, as a label selector."),
        AGE,
    ),
    lambda obj, age: [name_of(obj), _pod_selector(obj), created(obj, age)],
)
