"""The APIService kind (apiregistration.k8s.io/v1): validation, defaults, its Available
condition and its table row, worded as kube-aggregator's.

Design: pure functions over the object as a dict, used by validation.py, defaults.py and
_printers.py, and by the API server's aggregation (apiserver/apiservices.py and friends).
An APIService named ``<version>.<group>`` says which server answers that group/version:
``spec.service`` null means this API server itself ("Local"), otherwise the Service's
endpoints, reached over TLS checked with ``spec.caBundle`` (or not at all with
``insecureSkipTLSVerify``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from kprov.cluster.api.printers.columns import AGE, NAME, Column, Printer, created, name_of
from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.api.validation.names import dns1035_label_errors, dns1123_subdomain_errors

__all__ = [
    "AUTOMANAGED_LABEL",
    "GROUP",
    "PRINTER",
    "ServiceRef",
    "apiservice_name",
    "available_condition",
    "default_apiservice",
    "is_available",
    "name_errors",
    "service_ref",
    "set_available",
    "validate_apiservice",
]

GROUP = "apiregistration.k8s.io"
# kube-apiserver's autoregister controller marks the APIServices it keeps for its own groups so
AUTOMANAGED_LABEL = "kube-aggregator.kubernetes.io/automanaged"


def apiservice_name(group: str, version: str) -> str:
    """``v1.apps``; the core group's is ``v1.`` (upstream's spelling)."""
    return f"{version}.{group}"


def name_errors(name: str) -> list[str]:
    """A path segment (the name is in the URL), as upstream's first check of the name."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


def _ca_bundle_size(value: Any) -> int:
    if not value:
        return 0
    try:
        return len(base64.b64decode(str(value), validate=True))
    except (binascii.Error, ValueError):
        return len(str(value))


def default_apiservice(obj: dict[str, Any]) -> None:
    """A service reference's port defaults to 443."""
    service = (obj.get("spec") or {}).get("service")
    if isinstance(service, dict) and not service.get("port"):
        service["port"] = 443


def validate_apiservice(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """upstream's ValidateAPIService rules: the name is ``spec.version + "." + spec.group``;
    only v1 may have an empty group; group a DNS subdomain, version a DNS-1035 label;
    priorities in range; a local APIService (no service) has neither caBundle nor
    insecureSkipTLSVerify; a remote one names its service and may not have both."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    group, version = str(spec.get("group") or ""), str(spec.get("version") or "")
    name = str((obj.get("metadata") or {}).get("name") or "")
    required = apiservice_name(group, version)
    if name and not name_errors(name) and name != required:
        errors.invalid("metadata.name", name, f'must be `spec.version+"."+spec.group`: "{required}"')
    if not group and version != "v1":
        errors.required("spec.group", "only v1 may have an empty group and it better be legacy kube")
    if group:
        errors.each("spec.group", group, dns1123_subdomain_errors(group))
    errors.each("spec.version", version, dns1035_label_errors(version))
    group_priority = spec.get("groupPriorityMinimum") or 0
    if not isinstance(group_priority, int) or group_priority <= 0 or group_priority > 20000:
        errors.invalid("spec.groupPriorityMinimum", group_priority, "must be positive and less than 20000")
    version_priority = spec.get("versionPriority") or 0
    if not isinstance(version_priority, int) or version_priority <= 0 or version_priority > 1000:
        errors.invalid("spec.versionPriority", version_priority, "must be positive and less than 1000")
    insecure = bool(spec.get("insecureSkipTLSVerify"))
    bundle = _ca_bundle_size(spec.get("caBundle"))
    service = spec.get("service")
    if not isinstance(service, dict):
        if bundle:
            errors.invalid("spec.caBundle", f"{bundle} bytes", "local APIServices may not have a caBundle")
        if insecure:
            errors.invalid(
                "spec.insecureSkipTLSVerify", True, "local APIServices may not have insecureSkipTLSVerify"
            )
        return
    if not service.get("namespace"):
        errors.required("spec.service.namespace")
    if not service.get("name"):
        errors.required("spec.service.name")
    port = service.get("port")
    if port is not None and (not isinstance(port, int) or not 1 <= port <= 65535):
        errors.invalid("spec.service.port", port, "port is not valid: must be between 1 and 65535, inclusive")
    if insecure and bundle:
        errors.invalid("spec.insecureSkipTLSVerify", True, "may not be true if caBundle is present")


class ServiceRef:
    """Where a remote APIService's server is: a Service and its port."""

    __slots__ = ("name", "namespace", "port")

    def __init__(self, namespace: str, name: str, port: int) -> None:
        self.namespace, self.name, self.port = namespace, name, port

    def __repr__(self) -> str:
        return f"ServiceRef({self.namespace}/{self.name}:{self.port})"


def service_ref(obj: Mapping[str, Any]) -> ServiceRef | None:
    """The APIService's service, or None for a local one."""
    service = (obj.get("spec") or {}).get("service")
    if not isinstance(service, Mapping):
        return None
    return ServiceRef(str(service.get("namespace") or ""), str(service.get("name") or ""),
                      int(service.get("port") or 443))


def available_condition(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == "Available":
            return condition
    return None


def is_available(obj: Mapping[str, Any]) -> bool:
    condition = available_condition(obj)
    return condition is not None and condition.get("status") == "True"


def set_available(obj: dict[str, Any], status: str, reason: str, message: str, now: str) -> bool:
    """Set the Available condition (the transition time moves only when the status does);
    whether anything changed."""
    conditions = obj.setdefault("status", {}).setdefault("conditions", [])
    current = next((c for c in conditions if c.get("type") == "Available"), None)
    if current is not None and (current.get("status"), current.get("reason"), current.get("message")) == (
        status, reason, message
    ):
        return False
    condition = {"type": "Available", "status": status, "lastTransitionTime": now, "reason": reason,
                 "message": message}
    if current is not None and current.get("status") == status:
        condition["lastTransitionTime"] = current.get("lastTransitionTime") or now
    obj["status"]["conditions"] = [c for c in conditions if c.get("type") != "Available"] + [condition]
    return True


def _service_column(obj: Mapping[str, Any]) -> str:
    ref = service_ref(obj)
    return "Local" if ref is None else f"{ref.namespace}/{ref.name}"


def _available_column(obj: Mapping[str, Any]) -> str:
    condition = available_condition(obj)
    if condition is None:
        return "Unknown"
    if condition.get("status") == "True":
        return "True"
    return f"{condition.get('status', '')} ({condition.get('reason', '')})"


PRINTER = Printer(
    (
        NAME,
        Column("Service", description="The reference to the service that hosts this API endpoint."),
        Column("Available", description="Whether this service is available."),
        AGE,
    ),
    lambda obj, age: [name_of(obj), _service_column(obj), _available_column(obj), created(obj, age)],
)
