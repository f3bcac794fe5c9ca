"""Validation of a Pod's ephemeral containers (``kubectl debug``), worded like the real server.

Design: ephemeral containers only arrive through the ``pods/ephemeralcontainers``
subresource, whose strategy keeps everything of the stored pod but
``spec.ephemeralContainers``. They may not be set on create; once added, one may be neither
changed nor removed; each needs a name unique among all the pod's containers and an image,
and may not carry what only a long-running container has (ports, probes, lifecycle hooks,
resources, a restart policy); ``targetContainerName`` must name one of the pod's containers.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.api.validation.names import dns1123_label_errors

__all__ = ["FORBIDDEN_FIELDS", "validate_ephemeral_create", "validate_ephemeral_update"]

FORBIDDEN_FIELDS = (
    "ports",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "resources",
    "resizePolicy",
    "restartPolicy",
)
_PATH = "spec.ephemeralContainers"


def validate_ephemeral_create(errors: Errors, spec: Any) -> None:
    if isinstance(spec, dict) and spec.get("ephemeralContainers"):
        errors.forbidden(_PATH, "cannot be set on create")


def _names(spec: dict[str, Any], key: str) -> list[str]:
    return [str(c.get("name", "")) for c in spec.get(key) or [] if isinstance(c, dict)]


def validate_ephemeral_update(errors: Errors, new: dict[str, Any], old: dict[str, Any]) -> None:
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    if "kubernetes.io/config.mirror" in ((old.get("metadata") or {}).get("annotations") or {}):
        errors.forbidden("", "static pods do not support ephemeral containers")
        return
    current = [c for c in spec.get("ephemeralContainers") or [] if isinstance(c, dict)]
    by_name = {str(c.get("name", "")): c for c in current}
    for existing in old_spec.get("ephemeralContainers") or []:
        name = str(existing.get("name", ""))
        if name not in by_name:
            errors.forbidden(_PATH, f'existing ephemeral containers "{name}" may not be removed')
        elif by_name[name] != existing:
            errors.forbidden(_PATH, f'existing ephemeral containers "{name}" may not be changed')
    regular = set(_names(spec, "containers"))
    taken = regular | set(_names(spec, "initContainers"))
    for index, container in enumerate(spec.get("ephemeralContainers") or []):
        path = f"{_PATH}[{index}]"
        if not isinstance(container, dict):
            errors.invalid(path, container, "must be an object")
            continue
        given = container.get("name")
        if not given:
            errors.required(f"{path}.name")
        else:
            errors.each(f"{path}.name", given, dns1123_label_errors(str(given)))
            if given in taken:
                errors.duplicate(f"{path}.name", given)
            taken.add(given)
        if not container.get("image"):
            errors.required(f"{path}.image")
        for field in FORBIDDEN_FIELDS:
            if container.get(field):
                errors.forbidden(f"{path}.{field}", "cannot be set for an Ephemeral Container")
        target = container.get("targetContainerName")
        if target and target not in regular:
            errors.not_found(f"{path}.targetContainerName", target)
