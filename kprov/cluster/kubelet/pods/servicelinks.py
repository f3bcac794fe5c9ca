"""The service environment variables of a container, as upstream's kubelet sets them.

The ``kubernetes`` Service of the ``default`` namespace is always given (that is how
in-cluster clients find the API: ``KUBERNETES_SERVICE_HOST``/``_PORT``); the other Services
of the pod's own namespace too unless ``enableServiceLinks`` is false. Per Service with a
ClusterIP (headless ones are skipped), ``NAME`` being its name upper-cased with ``-`` as ``_``:
``NAME_SERVICE_HOST``, ``NAME_SERVICE_PORT`` (first port), ``NAME_SERVICE_PORT_<PORTNAME>``
for named ports, and the Docker-link style ``NAME_PORT``, ``NAME_PORT_<port>_<PROTO>`` with
its ``_PROTO``, ``_PORT`` and ``_ADDR``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["service_env"]

Obj = Mapping[str, Any]


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def _one(service: Obj) -> dict[str, str]:
    spec = service.get("spec") or {}
    ip = spec.get("clusterIP") or ""
    ports = spec.get("ports") or []
    if not ip or ip == "None" or not ports:
        return {}
    name = _env_name((service.get("metadata") or {}).get("name", ""))
    env = {f"{name}_SERVICE_HOST": ip, f"{name}_SERVICE_PORT": str(ports[0].get("port", ""))}
    for port in ports:
        if port.get("name"):
            env[f"{name}_SERVICE_PORT_{_env_name(port['name'])}"] = str(port.get("port", ""))
    first = ports[0]
    env[f"{name}_PORT"] = f"{str(first.get('protocol', 'TCP')).lower()}://{ip}:{first.get('port', '')}"
    for port in ports:
        protocol = str(port.get("protocol", "TCP"))
        number = str(port.get("port", ""))
        prefix = f"{name}_PORT_{number}_{protocol.upper()}"
        env[prefix] = f"{protocol.lower()}://{ip}:{number}"
        env[f"{prefix}_PROTO"] = protocol.lower()
        env[f"{prefix}_PORT"] = number
        env[f"{prefix}_ADDR"] = ip
    return env


def service_env(
    namespace: str, enable_links: bool, master: Obj | None, services: Iterable[Obj]
) -> dict[str, str]:
    """The variables for a pod in ``namespace``: ``master`` is default/kubernetes (or None),
    ``services`` the Services of the pod's namespace."""
    chosen: dict[str, Obj] = {}
    if enable_links:
        for service in services:
            chosen[(service.get("metadata") or {}).get("name", "")] = service
    if master is not None:
        name = (master.get("metadata") or {}).get("name", "kubernetes")
        if namespace != "default" or name not in chosen:
            chosen[name] = master
    env: dict[str, str] = {}
    for name in sorted(chosen):
        env.update(_one(chosen[name]))
    return env
