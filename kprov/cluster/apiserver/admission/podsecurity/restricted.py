"""The restricted level's own checks (Pod Security Standards), one function per check and
version; the restricted level also runs every baseline check these do not override (see
:mod:`.registry`). From v1.25 on, pods with ``spec.os.name: windows`` pass the checks of
Linux-only fields (privilege escalation, capabilities, seccomp), as upstream's do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kprov.cluster.apiserver.admission.podsecurity._pods import (
    Violation,
    containers,
    is_windows,
    join_quote,
    pluralize,
    security_context,
    setters,
)
from kprov.cluster.apiserver.admission.podsecurity.baseline import valid_seccomp_type

__all__ = [
    "allow_privilege_escalation_1_8",
    "allow_privilege_escalation_1_25",
    "capabilities_restricted_1_22",
    "capabilities_restricted_1_25",
    "restricted_volumes",
    "run_as_non_root",
    "run_as_user",
    "seccomp_profile_restricted_1_19",
    "seccomp_profile_restricted_1_25",
]

Pod = Mapping[str, Any]

_ALLOWED_VOLUME_SOURCES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
# the restricted types named in the message, in upstream's order of precedence
_NAMED_VOLUME_SOURCES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)


def _phrase(names: list[str]) -> str:
    return f"{pluralize('container', 'containers', len(names))} {join_quote(names)}"


def allow_privilege_escalation_1_8(meta: Pod, spec: Pod) -> Violation | None:
    names = [
        c.get("name", "")
        for c in containers(spec)
        if security_context(c).get("allowPrivilegeEscalation") is not False
    ]
    if not names:
        return None
    return Violation(
        "allowPrivilegeEscalation != false",
        f"{_phrase(names)} must set securityContext.allowPrivilegeEscalation=false",
    )


def allow_privilege_escalation_1_25(meta: Pod, spec: Pod) -> Violation | None:
    return None if is_windows(spec) else allow_privilege_escalation_1_8(meta, spec)


def capabilities_restricted_1_22(meta: Pod, spec: Pod) -> Violation | None:
    missing_drop, adding, added = [], [], set()
    for container in containers(spec):
        name = container.get("name", "")
        capabilities = security_context(container).get("capabilities")
        if not isinstance(capabilities, Mapping):
            missing_drop.append(name)
            continue
        if "ALL" not in (capabilities.get("drop") or ()):
            missing_drop.append(name)
        extra = [str(c) for c in capabilities.get("add") or () if c != "NET_BIND_SERVICE"]
        if extra:
            adding.append(name)
            added.update(extra)
    details = []
    if missing_drop:
        details.append(f'{_phrase(missing_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(
            f"{_phrase(adding)} must not include {join_quote(sorted(added))} "
            "in securityContext.capabilities.add"
        )
    return Violation("unrestricted capabilities", "; ".join(details)) if details else None


def capabilities_restricted_1_25(meta: Pod, spec: Pod) -> Violation | None:
    return None if is_windows(spec) else capabilities_restricted_1_22(meta, spec)


def _volume_type(volume: Mapping[str, Any]) -> str:
    for source in _NAMED_VOLUME_SOURCES:
        if volume.get(source) is not None:
            return source
    return "unknown"


def restricted_volumes(meta: Pod, spec: Pod) -> Violation | None:
    bad_volumes, bad_types = [], set()
    for volume in spec.get("volumes") or ():
        if any(volume.get(source) is not None for source in _ALLOWED_VOLUME_SOURCES):
            continue
        bad_volumes.append(volume.get("name", ""))
        bad_types.add(_volume_type(volume))
    if not bad_volumes:
        return None
    count = len(bad_volumes)
    return Violation(
        "restricted volume types",
        f"{pluralize('volume', 'volumes', count)} {join_quote(bad_volumes)} "
        f"{pluralize('uses', 'use', count)} "
        f"{pluralize('restricted volume type', 'restricted volume types', len(bad_types))} "
        f"{join_quote(sorted(bad_types))}",
    )


def run_as_non_root(meta: Pod, spec: Pod) -> Violation | None:
    pod_value = security_context(spec).get("runAsNonRoot")
    pod_bad, pod_set = pod_value is False, pod_value is True
    explicit, implicit = [], []
    for container in containers(spec):
        value = security_context(container).get("runAsNonRoot")
        if value is not None:
            if value is False:
                explicit.append(container.get("name", ""))
        elif not pod_set:
            implicit.append(container.get("name", ""))
    found = setters(pod_bad, explicit)
    if found:
        return Violation(
            "runAsNonRoot != true", f"{' and '.join(found)} must not set securityContext.runAsNonRoot=false"
        )
    if implicit:
        return Violation(
            "runAsNonRoot != true", f"pod or {_phrase(implicit)} must set securityContext.runAsNonRoot=true"
        )
    return None


def run_as_user(meta: Pod, spec: Pod) -> Violation | None:
    def is_root(holder: Pod) -> bool:
        value = security_context(holder).get("runAsUser")
        return value is not None and value == 0 and value is not False

    found = setters(is_root(spec), [c.get("name", "") for c in containers(spec) if is_root(c)])
    return Violation("runAsUser=0", f"{' and '.join(found)} must not set runAsUser=0") if found else None


def seccomp_profile_restricted_1_19(meta: Pod, spec: Pod) -> Violation | None:
    bad_values: set[str] = set()
    profile = security_context(spec).get("seccompProfile")
    pod_bad = pod_set = False
    if isinstance(profile, Mapping):
        if valid_seccomp_type(profile.get("type")):
            pod_set = True
        else:
            pod_bad = True
            bad_values.add(str(profile.get("type") or ""))
    explicit, implicit = [], []
    for container in containers(spec):
        profile = security_context(container).get("seccompProfile")
        if isinstance(profile, Mapping):
            if not valid_seccomp_type(profile.get("type")):
                explicit.append(container.get("name", ""))
                bad_values.add(str(profile.get("type") or ""))
        elif not pod_set:
            implicit.append(container.get("name", ""))
    found = setters(pod_bad, explicit)
    if found:
        return Violation(
            "seccompProfile",
            f"{' and '.join(found)} must not set securityContext.seccompProfile.type to "
            f"{join_quote(sorted(bad_values))}",
        )
    if implicit:
        return Violation(
            "seccompProfile",
            f'pod or {_phrase(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" '
            'or "Localhost"',
        )
    return None


def seccomp_profile_restricted_1_25(meta: Pod, spec: Pod) -> Violation | None:
    return None if is_windows(spec) else seccomp_profile_restricted_1_19(meta, spec)
