"""The baseline level's checks (Pod Security Standards), one function per check and version.

Each takes the pod's (or template's) metadata and spec as the API serves them (JSON
dictionaries) and returns None or a :class:`Violation` worded as upstream's check of the
same ID and version. Which version of which check applies is :mod:`.registry`'s table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kprov.cluster.apiserver.admission.podsecurity._pods import (
    Violation,
    containers,
    join_quote,
    pluralize,
    security_context,
    setters,
)

__all__ = [
    "app_armor_profile",
    "capabilities_baseline",
    "host_namespaces",
    "host_path_volumes",
    "host_ports",
    "privileged",
    "proc_mount",
    "seccomp_profile_baseline_1_0",
    "seccomp_profile_baseline_1_19",
    "selinux_options_1_0",
    "selinux_options_1_31",
    "sysctls_1_0",
    "sysctls_1_27",
    "sysctls_1_29",
    "sysctls_1_32",
    "valid_seccomp_type",
    "windows_host_process",
]

Pod = Mapping[str, Any]

_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
_APPARMOR_TYPES = ("RuntimeDefault", "Localhost")
_SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"
_DEFAULT_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_SELINUX_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
_SELINUX_TYPES_1_31 = _SELINUX_TYPES_1_0 | {"container_engine_t"}
_SYSCTLS_1_0 = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    }
)
_SYSCTLS_1_27 = _SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
_SYSCTLS_1_29 = _SYSCTLS_1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
_SYSCTLS_1_32 = _SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}


def go_quote(text: str) -> str:
    """A string as Go's %q prints it (ASCII text: backslash and quote escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _annotations(meta: Pod) -> Mapping[str, Any]:
    found = meta.get("annotations")
    return found if isinstance(found, Mapping) else {}


def _containers_phrase(names: list[str]) -> str:
    return f"{pluralize('container', 'containers', len(names))} {join_quote(names)}"


def app_armor_profile(meta: Pod, spec: Pod) -> Violation | None:
    bad_values: set[str] = set()
    pod_profile = security_context(spec).get("appArmorProfile")
    pod_bad = isinstance(pod_profile, Mapping) and pod_profile.get("type") not in _APPARMOR_TYPES
    if pod_bad:
        bad_values.add(str((pod_profile or {}).get("type") or ""))
    bad_containers = []
    for container in containers(spec):
        profile = security_context(container).get("appArmorProfile")
        if isinstance(profile, Mapping) and profile.get("type") not in _APPARMOR_TYPES:
            bad_containers.append(container.get("name", ""))
            bad_values.add(str(profile.get("type") or ""))
    found = setters(pod_bad, bad_containers)
    values = sorted(bad_values)
    forbidden = sorted(
        f"{key}={go_quote(str(value))}"
        for key, value in _annotations(meta).items()
        if key.startswith(_APPARMOR_ANNOTATION)
        and value
        and value != "runtime/default"
        and not str(value).startswith("localhost/")
    )
    if forbidden:
        values += forbidden
        found.append(pluralize("annotation", "annotations", len(forbidden)))
    if not found:
        return None
    return Violation(
        pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(values)),
        f"{' and '.join(found)} must not set AppArmor profile type to {join_quote(values)}",
    )


def capabilities_baseline(meta: Pod, spec: Pod) -> Violation | None:
    bad_containers, added = [], set()
    for container in containers(spec):
        capabilities = security_context(container).get("capabilities") or {}
        extra = [str(c) for c in capabilities.get("add") or () if c not in _DEFAULT_CAPABILITIES]
        if extra:
            bad_containers.append(container.get("name", ""))
            added.update(extra)
    if not bad_containers:
        return None
    return Violation(
        "non-default capabilities",
        f"{_containers_phrase(bad_containers)} must not include {join_quote(sorted(added))} "
        "in securityContext.capabilities.add",
    )


def host_namespaces(meta: Pod, spec: Pod) -> Violation | None:
    shared = [f"{field}=true" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field)]
    return Violation("host namespaces", ", ".join(shared)) if shared else None


def host_path_volumes(meta: Pod, spec: Pod) -> Violation | None:
    names = [v.get("name", "") for v in spec.get("volumes") or () if v.get("hostPath") is not None]
    if not names:
        return None
    return Violation("hostPath volumes", f"{pluralize('volume', 'volumes', len(names))} {join_quote(names)}")


def host_ports(meta: Pod, spec: Pod) -> Violation | None:
    bad_containers, ports = [], set()
    for container in containers(spec):
        used = [str(p.get("hostPort")) for p in container.get("ports") or () if p.get("hostPort")]
        if used:
            bad_containers.append(container.get("name", ""))
            ports.update(used)
    if not bad_containers:
        return None
    count = len(bad_containers)
    return Violation(
        "hostPort",
        f"{_containers_phrase(bad_containers)} {pluralize('uses', 'use', count)} "
        f"{pluralize('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}",
    )


def privileged(meta: Pod, spec: Pod) -> Violation | None:
    names = [c.get("name", "") for c in containers(spec) if security_context(c).get("privileged") is True]
    if not names:
        return None
    return Violation(
        "privileged", f"{_containers_phrase(names)} must not set securityContext.privileged=true"
    )


def proc_mount(meta: Pod, spec: Pod) -> Violation | None:
    bad_containers, types = [], set()
    for container in containers(spec):
        mount = security_context(container).get("procMount")
        if mount is not None and mount != "Default":
            bad_containers.append(container.get("name", ""))
            types.add(str(mount))
    if not bad_containers:
        return None
    return Violation(
        "procMount",
        f"{_containers_phrase(bad_containers)} must not set securityContext.procMount to "
        f"{join_quote(sorted(types))}",
    )


def _selinux_options(spec: Pod, allowed: frozenset[str]) -> Violation | None:
    bad_types: set[str] = set()
    set_user = set_role = False

    def valid(options: Mapping[str, Any]) -> bool:
        nonlocal set_user, set_role
        ok = True
        kind = str(options.get("type") or "")
        if kind not in allowed:
            ok = False
            bad_types.add(kind)
        if options.get("user"):
            ok, set_user = False, True
        if options.get("role"):
            ok, set_role = False, True
        return ok

    pod_options = security_context(spec).get("seLinuxOptions")
    pod_bad = isinstance(pod_options, Mapping) and not valid(pod_options)
    bad_containers = []
    for container in containers(spec):
        options = security_context(container).get("seLinuxOptions")
        if isinstance(options, Mapping) and not valid(options):
            bad_containers.append(container.get("name", ""))
    found = setters(pod_bad, bad_containers)
    if not found:
        return None
    data = []
    if bad_types:
        data.append(f"{pluralize('type', 'types', len(bad_types))} {join_quote(sorted(bad_types))}")
    if set_user:
        data.append("user may not be set")
    if set_role:
        data.append("role may not be set")
    return Violation(
        "seLinuxOptions",
        f"{' and '.join(found)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}",
    )


def selinux_options_1_0(meta: Pod, spec: Pod) -> Violation | None:
    return _selinux_options(spec, _SELINUX_TYPES_1_0)


def selinux_options_1_31(meta: Pod, spec: Pod) -> Violation | None:
    return _selinux_options(spec, _SELINUX_TYPES_1_31)


def valid_seccomp_type(kind: Any) -> bool:
    return kind in ("RuntimeDefault", "Localhost")


def _valid_seccomp_annotation(value: Any) -> bool:
    text = str(value)
    return text in ("runtime/default", "docker/default") or text.startswith("localhost/")


def seccomp_profile_baseline_1_0(meta: Pod, spec: Pod) -> Violation | None:
    """Before v1.19 seccomp was set by annotations."""
    annotations = _annotations(meta)
    forbidden = set()
    if _SECCOMP_POD_ANNOTATION in annotations and not _valid_seccomp_annotation(
        annotations[_SECCOMP_POD_ANNOTATION]
    ):
        forbidden.add(f"{_SECCOMP_POD_ANNOTATION}={go_quote(str(annotations[_SECCOMP_POD_ANNOTATION]))}")
    for container in containers(spec):
        key = _SECCOMP_CONTAINER_ANNOTATION + str(container.get("name", ""))
        if key in annotations and not _valid_seccomp_annotation(annotations[key]):
            forbidden.add(f"{key}={go_quote(str(annotations[key]))}")
    if not forbidden:
        return None
    noun = pluralize("annotation", "annotations", len(forbidden))
    return Violation("seccompProfile", f"forbidden {noun} {', '.join(sorted(forbidden))}")


def seccomp_profile_baseline_1_19(meta: Pod, spec: Pod) -> Violation | None:
    bad_values: set[str] = set()
    profile = security_context(spec).get("seccompProfile")
    pod_bad = isinstance(profile, Mapping) and not valid_seccomp_type(profile.get("type"))
    if pod_bad:
        bad_values.add(str((profile or {}).get("type") or ""))
    bad_containers = []
    for container in containers(spec):
        profile = security_context(container).get("seccompProfile")
        if isinstance(profile, Mapping) and not valid_seccomp_type(profile.get("type")):
            bad_containers.append(container.get("name", ""))
            bad_values.add(str(profile.get("type") or ""))
    found = setters(pod_bad, bad_containers)
    if not found:
        return None
    return Violation(
        "seccompProfile",
        f"{' and '.join(found)} must not set securityContext.seccompProfile.type to "
        f"{join_quote(sorted(bad_values))}",
    )


def _sysctls(spec: Pod, allowed: frozenset[str]) -> Violation | None:
    names = [
        str(s.get("name", ""))
        for s in security_context(spec).get("sysctls") or ()
        if s.get("name") not in allowed
    ]
    return Violation("forbidden sysctls", ", ".join(names)) if names else None


def sysctls_1_0(meta: Pod, spec: Pod) -> Violation | None:
    return _sysctls(spec, _SYSCTLS_1_0)


def sysctls_1_27(meta: Pod, spec: Pod) -> Violation | None:
    return _sysctls(spec, _SYSCTLS_1_27)


def sysctls_1_29(meta: Pod, spec: Pod) -> Violation | None:
    return _sysctls(spec, _SYSCTLS_1_29)


def sysctls_1_32(meta: Pod, spec: Pod) -> Violation | None:
    return _sysctls(spec, _SYSCTLS_1_32)


def _host_process(holder: Pod) -> bool:
    return (security_context(holder).get("windowsOptions") or {}).get("hostProcess") is True


def windows_host_process(meta: Pod, spec: Pod) -> Violation | None:
    bad_containers = [c.get("name", "") for c in containers(spec) if _host_process(c)]
    found = setters(_host_process(spec), bad_containers)
    if not found:
        return None
    return Violation(
        "hostProcess", f"{' and '.join(found)} must not set securityContext.windowsOptions.hostProcess=true"
    )
