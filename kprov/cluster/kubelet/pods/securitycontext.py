"""Pod and container security contexts -> the CRI's Linux security contexts, as upstream's kubelet.

Design: pure translation. A container's effective context is its own fields over the pod's
(runAsUser, runAsGroup, runAsNonRoot, seccompProfile, appArmorProfile); the rest
(privileged, capabilities, readOnlyRootFilesystem, allowPrivilegeEscalation, procMount)
exist only per container. What the kubelet decides itself:

- the sandbox is privileged when any container of the pod (init, app or ephemeral) is:
  runtimes refuse a privileged container in an unprivileged sandbox;
- seccomp: the container's profile, else the pod's, else RuntimeDefault when the kubelet
  runs with ``seccompDefault``, else Unconfined; Localhost profiles are files under
  ``<root-dir>/seccomp``;
- AppArmor only where the node's kernel has it (:func:`apparmor_enabled`); a pod asking
  for a profile on a node without it is refused at admission (:func:`apparmor_rejection`);
- supplementary groups: fsGroup first, then supplementalGroups;
- no_new_privs exactly when allowPrivilegeEscalation is false;
- masked and read-only /proc paths: the runtime defaults for the Default procMount, none
  for Unmasked;
- runAsNonRoot is checked against the effective runAsUser, else the image's user, with
  upstream's CreateContainerConfigError messages (:func:`non_root_violation`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kprov.cluster.kubelet.cri.generated import api_pb2 as pb

__all__ = [
    "APPARMOR_REASON",
    "DEFAULT_MASKED_PATHS",
    "DEFAULT_READONLY_PATHS",
    "apparmor_enabled",
    "apparmor_rejection",
    "container_security",
    "effective_context",
    "has_privileged_container",
    "needs_image_user",
    "non_root_violation",
    "sandbox_security",
]

Obj = Mapping[str, Any]
APPARMOR_REASON = "AppArmor"
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
APPARMOR_ENABLED_FILE = Path("/sys/module/apparmor/parameters/enabled")

DEFAULT_MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
DEFAULT_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

_INHERITED = ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile", "appArmorProfile")


def _all_containers(pod: Obj) -> Iterator[Obj]:
    spec = pod.get("spec") or {}
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def _pod_context(pod: Obj) -> Obj:
    return (pod.get("spec") or {}).get("securityContext") or {}


def effective_context(pod: Obj, container: Obj) -> dict[str, Any]:
    """The container's securityContext with the pod's inheritable fields beneath it."""
    pod_sc = _pod_context(pod)
    out: dict[str, Any] = {k: pod_sc[k] for k in _INHERITED if pod_sc.get(k) is not None}
    out.update({k: v for k, v in (container.get("securityContext") or {}).items() if v is not None})
    return out


def has_privileged_container(pod: Obj) -> bool:
    return any((c.get("securityContext") or {}).get("privileged") for c in _all_containers(pod))


def _seccomp(profile: Obj | None, seccomp_root: str, seccomp_default: bool) -> pb.SecurityProfile:
    kind = (profile or {}).get("type") or ("RuntimeDefault" if seccomp_default else "Unconfined")
    if kind == "Localhost":
        ref = str(Path(seccomp_root) / str((profile or {}).get("localhostProfile") or ""))
        return pb.SecurityProfile(profile_type=pb.SecurityProfile.Localhost, localhost_ref=ref)
    if kind == "RuntimeDefault":
        return pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault)
    return pb.SecurityProfile(profile_type=pb.SecurityProfile.Unconfined)


def _apparmor(profile: Obj | None) -> pb.SecurityProfile | None:
    """The AppArmor profile to ask for, or None (left to the runtime, which on a node without
    AppArmor runs unconfined)."""
    kind = (profile or {}).get("type")
    if kind == "Localhost":
        ref = str((profile or {}).get("localhostProfile") or "")
        return pb.SecurityProfile(profile_type=pb.SecurityProfile.Localhost, localhost_ref=ref)
    if kind == "RuntimeDefault":
        return pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault)
    if kind == "Unconfined":
        return pb.SecurityProfile(profile_type=pb.SecurityProfile.Unconfined)
    return None


def _groups(pod: Obj) -> list[int]:
    pod_sc = _pod_context(pod)
    groups = [int(pod_sc["fsGroup"])] if pod_sc.get("fsGroup") is not None else []
    return groups + [int(g) for g in pod_sc.get("supplementalGroups") or []]


def sandbox_security(
    pod: Obj, namespaces: pb.NamespaceOption, *, seccomp_root: str, seccomp_default: bool
) -> pb.LinuxSandboxSecurityContext:
    """The sandbox's context: the pod's user, group, groups and seccomp profile; privileged
    when any container is."""
    pod_sc = _pod_context(pod)
    out = pb.LinuxSandboxSecurityContext(
        namespace_options=namespaces,
        privileged=has_privileged_container(pod),
        supplemental_groups=_groups(pod),
        seccomp=_seccomp(pod_sc.get("seccompProfile"), seccomp_root, seccomp_default),
    )
    if pod_sc.get("runAsUser") is not None:
        out.run_as_user.value = int(pod_sc["runAsUser"])
    if pod_sc.get("runAsGroup") is not None:
        out.run_as_group.value = int(pod_sc["runAsGroup"])
    apparmor = _apparmor(pod_sc.get("appArmorProfile"))
    if apparmor is not None:
        out.apparmor.CopyFrom(apparmor)
    return out


def container_security(
    pod: Obj,
    container: Obj,
    namespaces: pb.NamespaceOption,
    *,
    seccomp_root: str = "",
    seccomp_default: bool = False,
) -> pb.LinuxContainerSecurityContext:
    sc = effective_context(pod, container)
    caps = sc.get("capabilities") or {}
    unmasked = sc.get("procMount") == "Unmasked"
    out = pb.LinuxContainerSecurityContext(
        privileged=bool(sc.get("privileged")),
        readonly_rootfs=bool(sc.get("readOnlyRootFilesystem")),
        no_new_privs=sc.get("allowPrivilegeEscalation") is False,
        namespace_options=namespaces,
        supplemental_groups=_groups(pod),
        masked_paths=[] if unmasked else list(DEFAULT_MASKED_PATHS),
        readonly_paths=[] if unmasked else list(DEFAULT_READONLY_PATHS),
        seccomp=_seccomp(sc.get("seccompProfile"), seccomp_root, seccomp_default),
    )
    if caps:
        out.capabilities.add_capabilities.extend(str(c) for c in caps.get("add") or [])
        out.capabilities.drop_capabilities.extend(str(c) for c in caps.get("drop") or [])
    if sc.get("runAsUser") is not None:
        out.run_as_user.value = int(sc["runAsUser"])
    if sc.get("runAsGroup") is not None:
        out.run_as_group.value = int(sc["runAsGroup"])
    annotation = ((pod.get("metadata") or {}).get("annotations") or {}).get(
        APPARMOR_ANNOTATION_PREFIX + str(container.get("name", ""))
    )
    apparmor = _apparmor(sc.get("appArmorProfile") or _annotation_profile(annotation))
    if apparmor is not None:
        out.apparmor.CopyFrom(apparmor)
    return out


def _annotation_profile(value: str | None) -> dict[str, str] | None:
    """The deprecated annotation's value as a profile: runtime/default, unconfined, localhost/x."""
    if not value:
        return None
    if value == "runtime/default":
        return {"type": "RuntimeDefault"}
    if value.startswith("localhost/"):
        return {"type": "Localhost", "localhostProfile": value[len("localhost/") :]}
    return {"type": "Unconfined"}


def _pod_ref(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def needs_image_user(pod: Obj, container: Obj) -> bool:
    """Whether :func:`non_root_violation` must know the image's user (runAsNonRoot without
    an explicit runAsUser)."""
    sc = effective_context(pod, container)
    return bool(sc.get("runAsNonRoot")) and sc.get("runAsUser") is None


def non_root_violation(pod: Obj, container: Obj, image_uid: int | None, image_user: str) -> str | None:
    """Upstream's refusal when runAsNonRoot cannot hold, else None. ``image_uid`` and
    ``image_user`` are the image's user as the runtime reports it (no user at all: root)."""
    sc = effective_context(pod, container)
    if not sc.get("runAsNonRoot"):
        return None
    where = f'(pod: "{_pod_ref(pod)}", container: {container.get("name", "")})'
    if sc.get("runAsUser") is not None:
        if int(sc["runAsUser"]) == 0:
            return f"container's runAsUser breaks non-root policy {where}"
        return None
    if image_uid is None and image_user:
        return (
            f"container has runAsNonRoot and image has non-numeric user ({image_user}), "
            f"cannot verify user is non-root {where}"
        )
    if image_uid is None or image_uid == 0:
        return f"container has runAsNonRoot and image will run as root {where}"
    return None


def apparmor_enabled(flag_file: Path = APPARMOR_ENABLED_FILE) -> bool:
    """Whether the node's kernel runs AppArmor (the module's ``enabled`` parameter is Y)."""
    try:
        return flag_file.read_text().strip().upper().startswith("Y")
    except OSError:
        return False


def _asks_apparmor(pod: Obj) -> bool:
    profiles = [_pod_context(pod).get("appArmorProfile")]
    profiles += [(c.get("securityContext") or {}).get("appArmorProfile") for c in _all_containers(pod)]
    if any(p and p.get("type") != "Unconfined" for p in profiles):
        return True
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return any(
        k.startswith(APPARMOR_ANNOTATION_PREFIX) and v != "unconfined" for k, v in annotations.items()
    )


def apparmor_rejection(pod: Obj, enabled: bool) -> str | None:
    """The admission message for a pod asking for AppArmor on a node without it, else None."""
    if enabled or not _asks_apparmor(pod):
        return None
    return "Cannot enforce AppArmor: AppArmor is not enabled on the host"
