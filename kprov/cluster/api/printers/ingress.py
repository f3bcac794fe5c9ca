"""Table printers for Ingresses (CLASS, HOSTS, ADDRESS, PORTS) and IngressClasses
(CONTROLLER, PARAMETERS), with kube-apiserver's cells: hosts ``*`` when no rule names one
and at most three then ``+ N more...``; the addresses of ``status.loadBalancer`` sorted
and unique; ports ``80`` or ``80, 443`` with TLS; parameters ``Kind[.group]/name``."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.objects import get_path
from kprov.cluster.api.printers.columns import AGE, NAME, NONE, Age, Column, Printer, created, name_of

__all__ = ["INGRESS", "INGRESSCLASS"]

_MAX_HOSTS = 3


def _hosts(rules: list[dict[str, Any]]) -> str:
    shown: list[str] = []
    more = False
    for rule in rules:
        if len(shown) == _MAX_HOSTS:
            more = True
        if not more and rule.get("host"):
            shown.append(str(rule["host"]))
    if not shown:
        return "*"
    text = ",".join(shown)
    return f"{text} + {len(rules) - _MAX_HOSTS} more..." if more else text


def _addresses(obj: dict[str, Any]) -> str:
    entries = get_path(obj, "status.loadBalancer.ingress", []) or []
    found = {str(e.get("ip") or e.get("hostname")) for e in entries if e.get("ip") or e.get("hostname")}
    return ",".join(sorted(found))


def _ingress_row(obj: dict[str, Any], age: Age) -> list[Any]:
    spec = obj.get("spec") or {}
    return [
        name_of(obj),
        spec.get("ingressClassName") or NONE,
        _hosts(spec.get("rules") or []),
        _addresses(obj),
        "80, 443" if spec.get("tls") else "80",
        created(obj, age),
    ]


INGRESS = Printer(
    (
        NAME,
        Column("Class", description="The name of the IngressClass resource that should be used for "
               "additional configuration"),
        Column("Hosts",
               description="Hosts that incoming requests are matched against before the ingress rule"),
        Column("Address", description="Address is a list containing ingress points for the load-balancer"),
        Column("Ports", description="Ports of TLS configurations that open"),
        AGE,
    ),
    _ingress_row,
)


def _parameters(obj: dict[str, Any]) -> str:
    params = get_path(obj, "spec.parameters", None)
    if not params:
        return NONE
    text = str(params.get("kind", ""))
    if params.get("apiGroup") is not None:
        text += f".{params['apiGroup']}"
    return f"{text}/{params.get('name', '')}"


INGRESSCLASS = Printer(
    (
        NAME,
        Column("Controller", description="Controller that is responsible for handling this class"),
        Column("Parameters", description="A reference to a resource with additional parameters"),
        AGE,
    ),
    lambda obj, age: [name_of(obj), get_path(obj, "spec.controller", ""), _parameters(obj),
                      created(obj, age)],
)
