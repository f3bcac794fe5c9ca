"""Validation of pod specs (Pods and every pod template), worded like the real server.

Design: `validate_pod_spec(errors, spec, path)` checks the fields the cluster supports:
containers (name, image, ports, env, volume mounts, resources, probes), volumes, restart
and DNS policies, grace periods, tolerations, sysctls (:mod:`.sysctls`).
`validate_pod_update` enforces the rule that a Pod's spec is immutable except images,
activeDeadlineSeconds, added tolerations and the termination grace period.

A spec's causes depend on the spec (and its path) alone: they are remembered by the spec's
JSON, so the pods of one template are checked once.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import orjson

from kprov.cluster.api.errors import Cause
from kprov.cluster.api.objects import parse_quantity
from kprov.cluster.api.pod_defaults import spec_json
from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.api.validation.names import dns1123_label_errors
from kprov.cluster.api.validation.sysctls import validate_sysctls

__all__ = [
    "port_name_errors",
    "validate_pod_spec",
    "validate_pod_update",
    "validate_resources",
    "validate_tolerations",
]

_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_PROPAGATIONS = ("Bidirectional", "HostToContainer", "None")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_EFFECTS = ("NoExecute", "NoSchedule", "PreferNoSchedule")


def port_name_errors(name: str) -> list[str]:
    """IANA service name rules, as the real server checks port names."""
    errors = []
    if len(name) > 15:
        errors.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", name):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        errors.append("must not contain consecutive hyphens")
    if not re.search(r"[a-z]", name):
        errors.append("must contain at least one letter (a-z)")
    if name.startswith("-") or name.endswith("-"):
        errors.append("must not begin or end with a hyphen")
    return errors


def _port_number(errors: Errors, field: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        errors.invalid(field, value, "must be between 1 and 65535, inclusive")


def validate_resources(errors: Errors, resources: dict[str, Any], path: str) -> None:
    """A container's ``resources`` (limits and requests): quantities, requests within limits."""
    parsed: dict[str, dict[str, Any]] = {}
    for section in ("limits", "requests"):
        for name, value in (resources.get(section) or {}).items():
            field = f"{path}.{section}[{name}]"
            try:
                quantity = parse_quantity(value)
            except ValueError:
                errors.invalid(
                    field,
                    value,
                    "quantities must match the regular expression "
                    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                )
                continue
            if quantity < 0:
                errors.invalid(field, value, "must be greater than or equal to 0")
            parsed.setdefault(section, {})[name] = quantity
    for name, request in parsed.get("requests", {}).items():
        limit = parsed.get("limits", {}).get(name)
        if limit is not None and request > limit:
            errors.invalid(
                f"{path}.requests",
                resources["requests"][name],
                f"must be less than or equal to {name} limit of {resources['limits'][name]}",
            )


def _container(errors: Errors, container: Any, path: str, volumes: set[str], names: set[str]) -> None:
    if not isinstance(container, dict):
        errors.invalid(path, container, "must be an object")
        return
    name = container.get("name")
    if not name:
        errors.required(f"{path}.name")
    else:
        errors.each(f"{path}.name", name, dns1123_label_errors(str(name)))
        if name in names:
            errors.duplicate(f"{path}.name", name)
        names.add(name)
    if not container.get("image"):
        errors.required(f"{path}.image")
    policy = container.get("imagePullPolicy")
    if policy is not None and policy not in _PULL_POLICIES:
        errors.not_supported(f"{path}.imagePullPolicy", policy, _PULL_POLICIES)
    seen_ports: set[tuple[Any, Any]] = set()
    for index, port in enumerate(container.get("ports") or []):
        port_path = f"{path}.ports[{index}]"
        if not isinstance(port, dict):
            errors.invalid(port_path, port, "must be an object")
            continue
        if "containerPort" not in port:
            errors.required(f"{port_path}.containerPort")
        else:
            _port_number(errors, f"{port_path}.containerPort", port["containerPort"])
        if port.get("hostPort") not in (None, 0):
            _port_number(errors, f"{port_path}.hostPort", port["hostPort"])
        protocol = port.get("protocol", "TCP")
        if protocol not in _PROTOCOLS:
            errors.not_supported(f"{port_path}.protocol", protocol, _PROTOCOLS)
        if port.get("name"):
            errors.each(f"{port_path}.name", port["name"], port_name_errors(str(port["name"])))
        key = (port.get("containerPort"), protocol)
        if key in seen_ports:
            errors.duplicate(f"{port_path}", f"{key[0]}/{key[1]}")
        seen_ports.add(key)
    for index, var in enumerate(container.get("env") or []):
        if not isinstance(var, dict) or not var.get("name"):
            errors.required(f"{path}.env[{index}].name")
    for index, mount in enumerate(container.get("volumeMounts") or []):
        mount_path = f"{path}.volumeMounts[{index}]"
        if not isinstance(mount, dict):
            continue
        if not mount.get("name"):
            errors.required(f"{mount_path}.name")
        elif mount["name"] not in volumes:
            errors.not_found(f"{mount_path}.name", mount["name"])
        if not mount.get("mountPath"):
            errors.required(f"{mount_path}.mountPath")
        propagation = mount.get("mountPropagation")
        if propagation is not None and propagation not in _PROPAGATIONS:
            errors.not_supported(f"{mount_path}.mountPropagation", propagation, _PROPAGATIONS)
        elif propagation == "Bidirectional" and not (container.get("securityContext") or {}).get(
            "privileged"
        ):
            errors.forbidden(f"{mount_path}.mountPropagation",
                             "Bidirectional mount propagation is available only to privileged containers")
    if isinstance(container.get("resources"), dict):
        validate_resources(errors, container["resources"], f"{path}.resources")


def validate_pod_spec(
    errors: Errors, spec: Any, path: str, *, restart_policies: tuple[str, ...] = ()
) -> None:
    key = spec_json(spec)
    if key is None:
        _validate_pod_spec(errors, spec, path, restart_policies)
    else:
        errors.causes.extend(_pod_spec_causes(key, path, restart_policies))


@functools.lru_cache(maxsize=256)
def _pod_spec_causes(key: bytes, path: str, restart_policies: tuple[str, ...]) -> tuple[Cause, ...]:
    errors = Errors()
    _validate_pod_spec(errors, orjson.loads(key), path, restart_policies)
    return tuple(errors.causes)


def _validate_pod_spec(errors: Errors, spec: Any, path: str, restart_policies: tuple[str, ...]) -> None:
    if not isinstance(spec, dict):
        errors.required(path)
        return
    volumes: set[str] = set()
    for index, volume in enumerate(spec.get("volumes") or []):
        volume_path = f"{path}.volumes[{index}]"
        name = volume.get("name") if isinstance(volume, dict) else None
        if not name:
            errors.required(f"{volume_path}.name")
            continue
        errors.each(f"{volume_path}.name", name, dns1123_label_errors(str(name)))
        if name in volumes:
            errors.duplicate(f"{volume_path}.name", name)
        volumes.add(name)
    containers = spec.get("containers")
    names: set[str] = set()
    if not containers:
        errors.required(f"{path}.containers")
    else:
        for index, container in enumerate(containers):
            _container(errors, container, f"{path}.containers[{index}]", volumes, names)
    for index, container in enumerate(spec.get("initContainers") or []):
        _container(errors, container, f"{path}.initContainers[{index}]", volumes, names)
    restart = spec.get("restartPolicy")
    allowed = restart_policies or _RESTART_POLICIES
    if restart is not None and restart not in allowed:
        errors.not_supported(f"{path}.restartPolicy", restart, allowed)
    dns = spec.get("dnsPolicy")
    if dns is not None and dns not in _DNS_POLICIES:
        errors.not_supported(f"{path}.dnsPolicy", dns, _DNS_POLICIES)
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or grace < 0):
        errors.invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be greater than or equal to 0")
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (not isinstance(deadline, int) or deadline <= 0):
        errors.invalid(
            f"{path}.activeDeadlineSeconds", deadline, "must be between 1 and 2147483647, inclusive"
        )
    validate_tolerations(errors, spec.get("tolerations") or [], f"{path}.tolerations")
    security = spec.get("securityContext")
    if isinstance(security, dict) and security.get("sysctls"):
        validate_sysctls(
            errors,
            security["sysctls"],
            f"{path}.securityContext.sysctls",
            host_network=bool(spec.get("hostNetwork")),
            host_ipc=bool(spec.get("hostIPC")),
        )


def validate_tolerations(errors: Errors, tolerations: Any, path: str) -> None:
    """A list of tolerations (a pod's, a RuntimeClass's scheduling)."""
    for index, toleration in enumerate(tolerations if isinstance(tolerations, list) else []):
        t_path = f"{path}[{index}]"
        if not isinstance(toleration, dict):
            errors.invalid(t_path, toleration, "must be an object")
            continue
        operator = toleration.get("operator", "Equal")
        if operator not in ("Equal", "Exists"):
            errors.not_supported(f"{t_path}.operator", operator, ("Equal", "Exists"))
        if operator == "Exists" and toleration.get("value"):
            errors.invalid(
                f"{t_path}.operator", toleration["value"], "value must be empty when `operator` is 'Exists'"
            )
        if not toleration.get("key") and operator != "Exists":
            errors.invalid(
                f"{t_path}.operator",
                operator,
                'operator must be Exists when `key` is empty, which means "match all values and all keys"',
            )
        effect = toleration.get("effect")
        if effect and effect not in _EFFECTS:
            errors.not_supported(f"{t_path}.effect", effect, _EFFECTS)


_MUTABLE_POD_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def _without_mutable(spec: dict[str, Any]) -> dict[str, Any]:
    copy = {
        k: v
        for k, v in spec.items()
        if k not in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")
    }
    for key in ("containers", "initContainers"):
        if isinstance(copy.get(key), list):
            copy[key] = [
                {k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c for c in copy[key]
            ]
    return copy


def validate_pod_update(errors: Errors, new: dict[str, Any], old: dict[str, Any]) -> None:
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    if old_spec.get("nodeName") and new_spec.get("nodeName") != old_spec.get("nodeName"):
        errors.forbidden("spec", _MUTABLE_POD_MESSAGE)
        return
    comparable_new = {**_without_mutable(new_spec), "nodeName": old_spec.get("nodeName")}
    comparable_old = {**_without_mutable(old_spec), "nodeName": old_spec.get("nodeName")}
    if comparable_new != comparable_old:
        errors.forbidden("spec", _MUTABLE_POD_MESSAGE)
    old_tolerations = old_spec.get("tolerations") or []
    new_tolerations = new_spec.get("tolerations") or []
    if any(t not in new_tolerations for t in old_tolerations):
        errors.forbidden(
            "spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"
        )
