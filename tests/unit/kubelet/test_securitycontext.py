"""The CRI security contexts the kubelet builds from pods (sandbox and containers)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from kprov.cluster.kubelet.cri.generated import api_pb2 as pb
from kprov.cluster.kubelet.pods.podconfig import NodeSettings, container_config, sandbox_config
from kprov.cluster.kubelet.pods.securitycontext import (
    DEFAULT_MASKED_PATHS,
    apparmor_enabled,
    apparmor_rejection,
    non_root_violation,
)
from kprov.cluster.kubelet.pods.sysctls import forbidden_sysctl

SETTINGS = NodeSettings("n1", seccomp_root="/var/lib/kubelet/seccomp")


def _pod(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
        "spec": {"containers": [{"name": "app", "image": "busybox"}], **spec},
    }
    return base


def _with_container_sc(pod: dict[str, Any], sc: dict[str, Any], key: str = "containers") -> dict[str, Any]:
    out = copy.deepcopy(pod)
    out["spec"].setdefault(key, [{"name": "side", "image": "busybox"}])
    out["spec"][key][0]["securityContext"] = sc
    return out


def _container_sc(pod: dict[str, Any], settings: NodeSettings = SETTINGS) -> pb.LinuxContainerSecurityContext:
    config = container_config(pod, pod["spec"]["containers"][0], 0, [], [], settings=settings)
    return config.linux.security_context


def test_a_privileged_container_makes_the_sandbox_privileged() -> None:
    plain = sandbox_config(SETTINGS, _pod(), 0).linux.security_context
    assert not plain.privileged
    for key in ("containers", "initContainers", "ephemeralContainers"):
        pod = _with_container_sc(_pod(), {"privileged": True}, key)
        assert sandbox_config(SETTINGS, pod, 0).linux.security_context.privileged, key
    assert _container_sc(_with_container_sc(_pod(), {"privileged": True})).privileged


def test_host_namespaces_in_sandbox_and_container() -> None:
    pod = _pod(hostNetwork=True, hostPID=True, hostIPC=True)
    options = sandbox_config(SETTINGS, pod, 0).linux.security_context.namespace_options
    assert (options.network, options.pid, options.ipc) == (pb.NODE, pb.NODE, pb.NODE)
    options = _container_sc(pod).namespace_options
    assert (options.network, options.pid, options.ipc) == (pb.NODE, pb.NODE, pb.NODE)
    shared = _pod(shareProcessNamespace=True)
    assert sandbox_config(SETTINGS, shared, 0).linux.security_context.namespace_options.pid == pb.POD
    assert _container_sc(shared).namespace_options.pid == pb.POD
    assert _container_sc(_pod()).namespace_options.pid == pb.CONTAINER


def test_capabilities_escalation_readonly_and_users() -> None:
    pod = _with_container_sc(
        _pod(securityContext={"runAsUser": 1000, "runAsGroup": 3000, "supplementalGroups": [4000],
                              "fsGroup": 2000}),
        {"capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}, "allowPrivilegeEscalation": False,
         "readOnlyRootFilesystem": True, "runAsUser": 1001},
    )
    sc = _container_sc(pod)
    assert list(sc.capabilities.add_capabilities) == ["NET_ADMIN"]
    assert list(sc.capabilities.drop_capabilities) == ["ALL"]
    assert sc.no_new_privs and sc.readonly_rootfs
    assert (sc.run_as_user.value, sc.run_as_group.value) == (1001, 3000)  # the container's wins
    assert list(sc.supplemental_groups) == [2000, 4000]  # fsGroup first, as upstream
    sandbox = sandbox_config(SETTINGS, pod, 0).linux.security_context
    assert (sandbox.run_as_user.value, sandbox.run_as_group.value) == (1000, 3000)
    assert list(sandbox.supplemental_groups) == [2000, 4000]
    plain = _container_sc(_pod())
    assert not plain.no_new_privs and not plain.HasField("run_as_user")
    assert not _container_sc(_with_container_sc(_pod(), {"allowPrivilegeEscalation": True})).no_new_privs


def test_seccomp_profiles_and_seccomp_default() -> None:
    assert _container_sc(_pod()).seccomp.profile_type == pb.SecurityProfile.Unconfined
    defaulting = NodeSettings("n1", seccomp_default=True)
    assert _container_sc(_pod(), defaulting).seccomp.profile_type == pb.SecurityProfile.RuntimeDefault
    assert sandbox_config(defaulting, _pod(), 0).linux.security_context.seccomp.profile_type == (
        pb.SecurityProfile.RuntimeDefault
    )
    pod = _pod(securityContext={"seccompProfile": {"type": "RuntimeDefault"}})
    assert _container_sc(pod).seccomp.profile_type == pb.SecurityProfile.RuntimeDefault
    unconfined = _with_container_sc(pod, {"seccompProfile": {"type": "Unconfined"}})
    assert _container_sc(unconfined, defaulting).seccomp.profile_type == pb.SecurityProfile.Unconfined
    local = _with_container_sc(pod, {"seccompProfile": {"type": "Localhost", "localhostProfile": "p/a.json"}})
    profile = _container_sc(local).seccomp
    assert profile.profile_type == pb.SecurityProfile.Localhost
    assert profile.localhost_ref == "/var/lib/kubelet/seccomp/p/a.json"


def test_proc_mount_masks() -> None:
    assert tuple(_container_sc(_pod()).masked_paths) == DEFAULT_MASKED_PATHS
    assert "/proc/sys" in _container_sc(_pod()).readonly_paths
    unmasked = _container_sc(_with_container_sc(_pod(), {"procMount": "Unmasked"}))
    assert not unmasked.masked_paths and not unmasked.readonly_paths


def test_run_as_non_root_refusals_use_upstreams_messages() -> None:
    pod = _pod(securityContext={"runAsNonRoot": True})
    container = pod["spec"]["containers"][0]
    where = '(pod: "web_shop(u-1)", container: app)'
    assert non_root_violation(pod, container, None, "") == (
        f"container has runAsNonRoot and image will run as root {where}"
    )
    assert non_root_violation(pod, container, 0, "") == (
        f"container has runAsNonRoot and image will run as root {where}"
    )
    assert non_root_violation(pod, container, None, "nginx") == (
        "container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user is "
        f"non-root {where}"
    )
    assert non_root_violation(pod, container, 1000, "") is None
    root = _with_container_sc(pod, {"runAsUser": 0})
    assert non_root_violation(root, root["spec"]["containers"][0], 1000, "") == (
        f"container's runAsUser breaks non-root policy {where}"
    )
    explicit = _with_container_sc(pod, {"runAsUser": 10})
    assert non_root_violation(explicit, explicit["spec"]["containers"][0], 0, "") is None
    assert non_root_violation(_pod(), _pod()["spec"]["containers"][0], 0, "") is None


def test_sysctl_allow_list() -> None:
    def pod(name: str, **spec: Any) -> dict[str, Any]:
        return _pod(securityContext={"sysctls": [{"name": name, "value": "1"}]}, **spec)

    assert forbidden_sysctl(pod("net.ipv4.tcp_syncookies")) is None
    assert forbidden_sysctl(pod("kernel.msgmax")) == 'forbidden sysctl: "kernel.msgmax" not allowlisted'
    assert forbidden_sysctl(pod("kernel.msgmax"), ["kernel.msg*"]) is None
    assert forbidden_sysctl(pod("net.core.somaxconn"), ["net.core.somaxconn"]) is None
    # not namespaced: never allowed, whatever the patterns say
    refused = forbidden_sysctl(pod("vm.swappiness"), ["vm.*"])
    assert refused == 'forbidden sysctl: "vm.swappiness" not allowlisted'
    assert forbidden_sysctl(pod("net.ipv4.tcp_syncookies", hostNetwork=True)) == (
        'forbidden sysctl: "net.ipv4.tcp_syncookies" not allowed with host net enabled'
    )
    assert forbidden_sysctl(pod("kernel.shm_rmid_forced", hostIPC=True)) == (
        'forbidden sysctl: "kernel.shm_rmid_forced" not allowed with host ipc enabled'
    )
    assert forbidden_sysctl(pod("kernel/msgmax"), ["kernel.msg*"]) is None  # slash form
    sandbox = sandbox_config(SETTINGS, pod("net.ipv4.tcp_syncookies"), 0)
    assert dict(sandbox.linux.sysctls) == {"net.ipv4.tcp_syncookies": "1"}


def test_apparmor_only_where_the_kernel_has_it(tmp_path: Path) -> None:
    asks = _with_container_sc(_pod(), {"appArmorProfile": {"type": "RuntimeDefault"}})
    assert apparmor_rejection(asks, enabled=False) == (
        "Cannot enforce AppArmor: AppArmor is not enabled on the host"
    )
    assert apparmor_rejection(asks, enabled=True) is None
    unconfined = _with_container_sc(_pod(), {"appArmorProfile": {"type": "Unconfined"}})
    assert apparmor_rejection(unconfined, enabled=False) is None
    annotated = _pod()
    key = "container.apparmor.security.beta.kubernetes.io/app"
    annotated["metadata"]["annotations"] = {key: "runtime/default"}
    assert apparmor_rejection(annotated, enabled=False) is not None
    assert _container_sc(asks).apparmor.profile_type == pb.SecurityProfile.RuntimeDefault
    assert not _container_sc(_pod()).HasField("apparmor")
    flag = tmp_path / "enabled"
    assert not apparmor_enabled(flag)
    flag.write_text("Y\n")
    assert apparmor_enabled(flag)
