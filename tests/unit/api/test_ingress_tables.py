"""Ingress and IngressClass table rows, in kube-apiserver's cells."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.api.printers.registry import PRINTERS


def _row(kind: str, obj: dict[str, Any]) -> list[Any]:
    return list(PRINTERS[("networking.k8s.io", kind)].row(obj, lambda _created: "5m"))


@pytest.mark.parametrize("spec, status, cells", [
    ({}, {}, ["<none>", "*", "", "80"]),
    ({"ingressClassName": "kprov", "rules": [{"host": "a.example"}, {}], "tls": [{"hosts": ["a.example"]}]},
     {"loadBalancer": {"ingress": [{"ip": "10.0.0.5"}, {"ip": "10.0.0.4"}, {"ip": "10.0.0.5"}]}},
     ["kprov", "a.example", "10.0.0.4,10.0.0.5", "80, 443"]),
    ({"rules": [{"host": f"h{i}.example"} for i in range(5)]},
     {"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}},
     ["<none>", "h0.example,h1.example,h2.example + 2 more...", "lb.example", "80"]),
])
def test_ingress_row(spec: dict[str, Any], status: dict[str, Any], cells: list[str]) -> None:
    obj = {"metadata": {"name": "web"}, "spec": spec, "status": status}
    assert _row("Ingress", obj) == ["web", *cells, "5m"]


@pytest.mark.parametrize("spec, parameters", [
    ({"controller": "kprov.io/ingress"}, "<none>"),
    ({"controller": "kprov.io/ingress", "parameters": {"kind": "Config", "name": "c"}}, "Config/c"),
    ({"controller": "kprov.io/ingress", "parameters": {"apiGroup": "k.io", "kind": "Config", "name": "c"}},
     "Config.k.io/c"),
])
def test_ingressclass_row(spec: dict[str, Any], parameters: str) -> None:
    obj = {"metadata": {"name": "kprov"}, "spec": spec}
    assert _row("IngressClass", obj) == ["kprov", "kprov.io/ingress", parameters, "5m"]
