"""Fields of a Service that belong to its old type, dropped when an update changes the type.

As the API server's service strategy: a client that changes ``type`` sends back what it
read, so a NodePort -> ClusterIP update still carries the allocated ``nodePort`` values and
a ClusterIP -> ExternalName update the ``clusterIP``/``clusterIPs``. Values left exactly as
they were are the old type's leftovers and are dropped before validation (the allocators
then release them); values the client changed are kept, and validation judges them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["drop_type_dependent_fields"]

_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def drop_type_dependent_fields(old: dict[str, Any], new: dict[str, Any]) -> None:
    old_spec, spec = old.get("spec") or {}, new.get("spec")
    if not isinstance(spec, dict):
        return
    old_type, new_type = old_spec.get("type", "ClusterIP"), spec.get("type", "ClusterIP")
    if old_type == new_type:
        return
    if old_type in _NODE_PORT_TYPES and new_type not in _NODE_PORT_TYPES:
        old_ports = {p.get("nodePort") for p in old_spec.get("ports") or [] if p.get("nodePort")}
        for port in spec.get("ports") or []:
            if isinstance(port, dict) and port.get("nodePort") in old_ports:
                del port["nodePort"]
    if new_type == "ExternalName":
        for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if field in spec and spec[field] == old_spec.get(field):
                del spec[field]
