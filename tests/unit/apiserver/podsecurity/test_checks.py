"""Each Pod Security check, table-driven: pods that pass and pods that fail, with upstream's
reason and detail text, and the versions at which a check's behaviour changes."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.apiserver.admission.podsecurity import baseline, restricted
from kprov.cluster.apiserver.admission.podsecurity._pods import CheckFn, Violation


def c(name: str = "c", **security: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": "busybox"}
    if security:
        container["securityContext"] = security
    return container


def spec(*containers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"containers": list(containers) or [c()], **fields}


CASES: list[tuple[str, CheckFn, dict[str, Any], dict[str, Any], Violation | None]] = [
    # (case, check, pod metadata, pod spec, expected)
    ("privileged ok", baseline.privileged, {}, spec(c(privileged=False)), None),
    (
        "privileged one",
        baseline.privileged,
        {},
        spec(c(privileged=True)),
        Violation("privileged", 'container "c" must not set securityContext.privileged=true'),
    ),
    (
        "privileged init and ephemeral",
        baseline.privileged,
        {},
        {
            "initContainers": [c("i", privileged=True)],
            "containers": [c("a")],
            "ephemeralContainers": [c("e", privileged=True)],
        },
        Violation("privileged", 'containers "i", "e" must not set securityContext.privileged=true'),
    ),
    ("host namespaces ok", baseline.host_namespaces, {}, spec(hostNetwork=False), None),
    (
        "host namespaces",
        baseline.host_namespaces,
        {},
        spec(hostNetwork=True, hostIPC=True),
        Violation("host namespaces", "hostNetwork=true, hostIPC=true"),
    ),
    ("hostPath ok", baseline.host_path_volumes, {}, spec(volumes=[{"name": "e", "emptyDir": {}}]), None),
    (
        "hostPath",
        baseline.host_path_volumes,
        {},
        spec(volumes=[{"name": "a", "hostPath": {"path": "/"}}, {"name": "b", "hostPath": {"path": "/x"}}]),
        Violation("hostPath volumes", 'volumes "a", "b"'),
    ),
    ("hostPort ok", baseline.host_ports, {}, spec({"name": "c", "ports": [{"containerPort": 80}]}), None),
    (
        "hostPort",
        baseline.host_ports,
        {},
        spec({"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}, {"hostPort": 80}]}),
        Violation("hostPort", 'container "c" uses hostPorts 80, 8080'),
    ),
    (
        "capabilities baseline ok",
        baseline.capabilities_baseline,
        {},
        spec(c(capabilities={"add": ["CHOWN", "NET_BIND_SERVICE"]})),
        None,
    ),
    (
        "capabilities baseline",
        baseline.capabilities_baseline,
        {},
        spec(c(capabilities={"add": ["SYS_ADMIN", "NET_RAW", "CHOWN"]})),
        Violation(
            "non-default capabilities",
            'container "c" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add',
        ),
    ),
    ("procMount ok", baseline.proc_mount, {}, spec(c(procMount="Default")), None),
    (
        "procMount",
        baseline.proc_mount,
        {},
        spec(c(procMount="Unmasked")),
        Violation("procMount", 'container "c" must not set securityContext.procMount to "Unmasked"'),
    ),
    (
        "apparmor ok",
        baseline.app_armor_profile,
        {"annotations": {"container.apparmor.security.beta.kubernetes.io/c": "localhost/x"}},
        spec(c(appArmorProfile={"type": "RuntimeDefault"})),
        None,
    ),
    (
        "apparmor field and annotation",
        baseline.app_armor_profile,
        {"annotations": {"container.apparmor.security.beta.kubernetes.io/c": "unconfined"}},
        spec(securityContext={"appArmorProfile": {"type": "Unconfined"}}),
        Violation(
            "forbidden AppArmor profiles",
            'pod and annotation must not set AppArmor profile type to "Unconfined", '
            '"container.apparmor.security.beta.kubernetes.io/c="unconfined""',
        ),
    ),
    (
        "seLinux",
        baseline.selinux_options_1_0,
        {},
        spec(c(seLinuxOptions={"type": "spc_t", "user": "root"})),
        Violation(
            "seLinuxOptions",
            'container "c" set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set',
        ),
    ),
    (
        "sysctls ok",
        baseline.sysctls_1_0,
        {},
        spec(securityContext={"sysctls": [{"name": "kernel.shm_rmid_forced"}]}),
        None,
    ),
    (
        "sysctls",
        baseline.sysctls_1_32,
        {},
        spec(securityContext={"sysctls": [{"name": "kernel.msgmax"}, {"name": "net.ipv4.tcp_rmem"}]}),
        Violation("forbidden sysctls", "kernel.msgmax"),
    ),
    (
        "seccomp baseline",
        baseline.seccomp_profile_baseline_1_19,
        {},
        spec(
            c(seccompProfile={"type": "Unconfined"}),
            securityContext={"seccompProfile": {"type": "Unconfined"}},
        ),
        Violation(
            "seccompProfile",
            'pod and container "c" must not set securityContext.seccompProfile.type to "Unconfined"',
        ),
    ),
    (
        "seccomp baseline annotations (before v1.19)",
        baseline.seccomp_profile_baseline_1_0,
        {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}},
        spec(),
        Violation(
            "seccompProfile", 'forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined"'
        ),
    ),
    (
        "hostProcess",
        baseline.windows_host_process,
        {},
        spec(c(windowsOptions={"hostProcess": True})),
        Violation(
            "hostProcess", 'container "c" must not set securityContext.windowsOptions.hostProcess=true'
        ),
    ),
    (
        "allowPrivilegeEscalation ok",
        restricted.allow_privilege_escalation_1_8,
        {},
        spec(c(allowPrivilegeEscalation=False)),
        None,
    ),
    (
        "allowPrivilegeEscalation unset",
        restricted.allow_privilege_escalation_1_8,
        {},
        spec(c("a"), c("b", allowPrivilegeEscalation=True)),
        Violation(
            "allowPrivilegeEscalation != false",
            'containers "a", "b" must set securityContext.allowPrivilegeEscalation=false',
        ),
    ),
    (
        "allowPrivilegeEscalation windows (v1.25)",
        restricted.allow_privilege_escalation_1_25,
        {},
        spec(os={"name": "windows"}),
        None,
    ),
    (
        "allowPrivilegeEscalation windows (v1.24)",
        restricted.allow_privilege_escalation_1_8,
        {},
        spec(os={"name": "windows"}),
        Violation(
            "allowPrivilegeEscalation != false",
            'container "c" must set securityContext.allowPrivilegeEscalation=false',
        ),
    ),
    (
        "capabilities restricted ok",
        restricted.capabilities_restricted_1_22,
        {},
        spec(c(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})),
        None,
    ),
    (
        "capabilities restricted",
        restricted.capabilities_restricted_1_22,
        {},
        spec(c("a"), c("b", capabilities={"drop": ["ALL"], "add": ["CHOWN"]})),
        Violation(
            "unrestricted capabilities",
            'container "a" must set securityContext.capabilities.drop=["ALL"]; '
            'container "b" must not include "CHOWN" in securityContext.capabilities.add',
        ),
    ),
    (
        "restricted volumes ok",
        restricted.restricted_volumes,
        {},
        spec(volumes=[{"name": "s", "secret": {}}, {"name": "p", "projected": {"sources": []}}]),
        None,
    ),
    (
        "restricted volumes",
        restricted.restricted_volumes,
        {},
        spec(volumes=[{"name": "h", "hostPath": {"path": "/"}}, {"name": "n", "nfs": {}}]),
        Violation(
            "restricted volume types", 'volumes "h", "n" use restricted volume types "hostPath", "nfs"'
        ),
    ),
    ("runAsNonRoot pod", restricted.run_as_non_root, {}, spec(securityContext={"runAsNonRoot": True}), None),
    (
        "runAsNonRoot unset",
        restricted.run_as_non_root,
        {},
        spec(),
        Violation("runAsNonRoot != true", 'pod or container "c" must set securityContext.runAsNonRoot=true'),
    ),
    (
        "runAsNonRoot false",
        restricted.run_as_non_root,
        {},
        spec(c(runAsNonRoot=False), securityContext={"runAsNonRoot": True}),
        Violation("runAsNonRoot != true", 'container "c" must not set securityContext.runAsNonRoot=false'),
    ),
    ("runAsUser ok", restricted.run_as_user, {}, spec(c(runAsUser=1000)), None),
    (
        "runAsUser 0",
        restricted.run_as_user,
        {},
        spec(c(runAsUser=0), securityContext={"runAsUser": 0}),
        Violation("runAsUser=0", 'pod and container "c" must not set runAsUser=0'),
    ),
    (
        "seccomp restricted ok",
        restricted.seccomp_profile_restricted_1_19,
        {},
        spec(securityContext={"seccompProfile": {"type": "RuntimeDefault"}}),
        None,
    ),
    (
        "seccomp restricted unset",
        restricted.seccomp_profile_restricted_1_19,
        {},
        spec(),
        Violation(
            "seccompProfile",
            'pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" '
            'or "Localhost"',
        ),
    ),
    (
        "seccomp restricted windows (v1.25)",
        restricted.seccomp_profile_restricted_1_25,
        {},
        spec(os={"name": "windows"}),
        None,
    ),
]


@pytest.mark.parametrize(
    ("check", "meta", "pod_spec", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_check(
    check: CheckFn, meta: dict[str, Any], pod_spec: dict[str, Any], expected: Violation | None
) -> None:
    assert check(meta, pod_spec) == expected
