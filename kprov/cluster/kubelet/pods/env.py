"""A container's environment: ``env`` and ``envFrom`` resolved against the pod and its sources.

Resolution order matches Kubernetes: ``envFrom`` sources first (in order, later ones win),
then ``env`` entries in order; a value may reference earlier variables as ``$(NAME)``
(``$$`` escapes a dollar). ``valueFrom`` supports configMapKeyRef, secretKeyRef and
fieldRef (metadata.name/namespace/uid, metadata.labels['k'], metadata.annotations['k'],
spec.nodeName, spec.serviceAccountName, status.podIP, status.hostIP). Missing non-optional
sources raise :class:`ConfigError`, which the pod worker reports as the
``CreateContainerConfigError`` waiting reason.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.kubelet.pods.resourcefield import ResourceFieldError, resource_field_value

__all__ = ["ConfigError", "PodSources", "expand", "field_value", "named_container", "resolve_env"]

Obj = Mapping[str, Any]
_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class ConfigError(Exception):
    """A container cannot be configured (missing configmap/secret/key, bad fieldRef)."""


@dataclass
class PodSources:
    """What env and volumes may refer to: fetched configmaps and secrets by name, pod IPs."""

    config_maps: dict[str, Obj] = field(default_factory=dict)
    secrets: dict[str, Obj] = field(default_factory=dict)
    pod_ip: str = ""
    host_ip: str = ""
    pod_ips: tuple[str, ...] = ()  # every family's (dual-stack), pod_ip first; () = pod_ip alone
    host_ips: tuple[str, ...] = ()
    allocatable: dict[str, str] = field(default_factory=dict)  # the node's, for resourceFieldRef defaults
    tokens: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (volume, path) -> SA token
    service_env: dict[str, str] = field(default_factory=dict)  # KUBERNETES_SERVICE_HOST... (servicelinks)
    claims: dict[str, Obj] = field(default_factory=dict)  # bound claim name -> its PV's hostPath/local
    namespace: str = ""  # the pod's (what error messages name)


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: known names are replaced, unknown ones kept verbatim."""

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _REF.sub(repl, text)


def _secret_data(secret: Obj) -> dict[str, str]:
    out = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (secret.get("data") or {}).items()}
    out.update(secret.get("stringData") or {})
    return out


def _config_map_data(cm: Obj) -> dict[str, str]:
    return dict(cm.get("data") or {})


_LABEL_PATH = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")


def field_value(pod: Obj, path: str, sources: PodSources) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": sources.pod_ip,
        "status.hostIP": sources.host_ip,
        # the lists, comma-joined as upstream's kubelet writes them
        "status.podIPs": ",".join(sources.pod_ips) or sources.pod_ip,
        "status.hostIPs": ",".join(sources.host_ips) or sources.host_ip,
    }
    if path in simple:
        return str(simple[path])
    match = _LABEL_PATH.match(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        values = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
    raise ConfigError(f"fieldRef {path!r} is not supported")


def _lookup(kind: str, name: str, key: str, optional: bool, sources: PodSources) -> str | None:
    store = sources.config_maps if kind == "configMap" else sources.secrets
    obj = store.get(name)
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{kind.lower()} "{name}" not found')  # the API's NotFound text
    data = _config_map_data(obj) if kind == "configMap" else _secret_data(obj)
    if key not in data:
        if optional:
            return None
        namespace = obj.get("metadata", {}).get("namespace") or sources.namespace
        title = "ConfigMap" if kind == "configMap" else "Secret"
        raise ConfigError(f"couldn't find key {key} in {title} {namespace}/{name}")
    return data[key]


def named_container(pod: Obj, name: str) -> Obj:
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if container.get("name") == name:
            return container
    raise ConfigError(f"resourceFieldRef: container {name!r} not found in the pod")


def resolve_env(pod: Obj, container: Obj, sources: PodSources) -> list[tuple[str, str]]:
    """The container's environment as ordered (name, value) pairs, duplicates resolved.
    The service variables come first (the container's own env may use or override them)."""
    env: dict[str, str] = dict(sources.service_env)
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind in ("configMap", "secret"):
            ref = source.get(f"{kind}Ref")
            if not ref:
                continue
            store = sources.config_maps if kind == "configMap" else sources.secrets
            obj = store.get(ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{kind.lower()} "{ref.get("name", "")}" not found')
            data = _config_map_data(obj) if kind == "configMap" else _secret_data(obj)
            for key, data_value in data.items():
                env[prefix + key] = data_value
    for item in container.get("env") or []:
        name = item["name"]
        if "valueFrom" not in item:
            env[name] = expand(str(item.get("value", "")), env)
            continue
        source = item["valueFrom"]
        value: str | None
        if "fieldRef" in source:
            value = field_value(pod, source["fieldRef"].get("fieldPath", ""), sources)
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            value = _lookup(
                "configMap", ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional")), sources
            )
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            value = _lookup(
                "secret", ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional")), sources
            )
        elif "resourceFieldRef" in source:
            ref = source["resourceFieldRef"]
            target = named_container(pod, ref.get("containerName") or container.get("name", ""))
            try:
                value = resource_field_value(target, ref, sources.allocatable)
            except ResourceFieldError as err:
                raise ConfigError(f"env {name}: {err}") from None
        else:
            raise ConfigError(f"env {name}: valueFrom has no supported source")
        if value is not None:
            env[name] = value
    return list(env.items())
