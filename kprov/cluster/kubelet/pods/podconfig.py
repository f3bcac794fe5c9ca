"""Pod spec -> CRI configs: the PodSandboxConfig for the pod, a ContainerConfig per container.

Pure translation (no I/O): the caller passes what was already resolved (environment,
mounts) and the node settings in :class:`NodeSettings`. The sandbox carries the pod's
identity labels, hostname, log directory ``/var/log/pods/<ns>_<name>_<uid>``, DNS
(ClusterFirst when the node has a cluster DNS address) and hostNetwork as a NODE network
namespace, the pod's sysctls (:mod:`.sysctls`) and its RuntimeClass's handler. Containers
get command/args/workingDir with ``$(VAR)`` expansion, env, mounts, resources, a log path
``<container>/<attempt>.log`` and labels that let a restarted kubelet adopt them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from kprov.cluster.dns.resolvconf import ResolvConf
from kprov.cluster.kubelet.cri.generated import api_pb2 as pb
from kprov.cluster.kubelet.pods import labels as L
from kprov.cluster.kubelet.pods.env import expand
from kprov.cluster.kubelet.pods.resources import linux_resources
from kprov.cluster.kubelet.pods.securitycontext import container_security, sandbox_security
from kprov.cluster.kubelet.pods.sysctls import pod_sysctls
from kprov.cluster.kubelet.volumes.pod_volumes import MountSpec

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "NodeSettings",
    "container_config",
    "grace_period",
    "log_directory",
    "sandbox_config",
]

Obj = Mapping[str, Any]
DEFAULT_GRACE_SECONDS = 30


@dataclass(frozen=True)
class NodeSettings:
    node_name: str
    pod_log_root: str = "/var/log/pods"
    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    cgroup_parent: str = ""
    host_dns: ResolvConf = field(default_factory=ResolvConf)  # the node's resolv.conf (--resolv-conf)
    extra_sandbox_labels: dict[str, str] = field(default_factory=dict)
    seccomp_default: bool = False  # the kubelet's seccompDefault: RuntimeDefault when a pod names none
    seccomp_root: str = "/var/lib/kprov/kubelet/seccomp"  # where Localhost profiles live
    allowed_unsafe_sysctls: tuple[str, ...] = ()  # --allowed-unsafe-sysctls patterns
    apparmor: bool = False  # the node's kernel runs AppArmor


# volumeMounts[].mountPropagation as CRI's (the API server refuses Bidirectional unless privileged)
_PROPAGATION = {
    "HostToContainer": pb.PROPAGATION_HOST_TO_CONTAINER,
    "Bidirectional": pb.PROPAGATION_BIDIRECTIONAL,
}


def log_directory(settings: NodeSettings, pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{settings.pod_log_root}/{meta.get('namespace', '')}_{meta.get('name', '')}_{meta.get('uid', '')}"


def grace_period(pod: Obj) -> int:
    """Seconds to wait between SIGTERM and SIGKILL when the pod is deleted."""
    meta = pod.get("metadata") or {}
    if meta.get("deletionGracePeriodSeconds") is not None:
        return max(0, int(meta["deletionGracePeriodSeconds"]))
    value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return DEFAULT_GRACE_SECONDS if value is None else max(0, int(value))


MAX_DNS_SEARCH_PATHS = 32  # upstream's limits on a pod's resolv.conf
MAX_DNS_NAMESERVERS = 3


def _dedup(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def pod_dns(settings: NodeSettings, pod: Obj) -> tuple[list[str], list[str], list[str]]:
    """(nameservers, searches, options) of the pod's resolv.conf, per dnsPolicy as upstream:
    ClusterFirst (not host network) and ClusterFirstWithHostNet -> the cluster DNS, the
    cluster's search path then the host's, ndots:5; Default (and ClusterFirst on the host
    network, or without a cluster DNS) -> the host's resolv.conf; None -> only dnsConfig.
    dnsConfig's nameservers and searches are appended, its options override by name."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    custom = spec.get("dnsConfig") or {}
    host = settings.host_dns
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    cluster_first = policy == "ClusterFirstWithHostNet" or (
        policy == "ClusterFirst" and not spec.get("hostNetwork")
    )
    if cluster_first and settings.cluster_dns:
        ns = (pod.get("metadata") or {}).get("namespace") or "default"
        domain = settings.cluster_domain
        servers = list(settings.cluster_dns)
        searches = [f"{ns}.svc.{domain}", f"svc.{domain}", domain, *host.search]
        options = ["ndots:5"]
    elif policy != "None":
        servers, searches, options = list(host.nameservers), list(host.search), list(host.options)
    servers += list(custom.get("nameservers") or [])
    searches += list(custom.get("searches") or [])
    merged: dict[str, str] = {}
    for opt in options:
        merged[opt.partition(":")[0]] = opt
    for opt in custom.get("options") or []:
        value = opt.get("value")
        merged[opt["name"]] = f"{opt['name']}:{value}" if value is not None else opt["name"]
    return (_dedup(servers)[:MAX_DNS_NAMESERVERS], _dedup(searches)[:MAX_DNS_SEARCH_PATHS],
            list(merged.values()))


def _dns(settings: NodeSettings, pod: Obj) -> pb.DNSConfig | None:
    servers, searches, options = pod_dns(settings, pod)
    if not (servers or searches or options):
        return None
    return pb.DNSConfig(servers=servers, searches=searches, options=options)


def sandbox_config(settings: NodeSettings, pod: Obj, attempt: int) -> pb.PodSandboxConfig:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    host_network = bool(spec.get("hostNetwork"))
    identity = {
        L.POD_NAME: meta.get("name", ""),
        L.POD_NAMESPACE: meta.get("namespace", ""),
        L.POD_UID: meta.get("uid", ""),
        L.MANAGED_BY: L.MANAGED_BY_VALUE,
    }
    labels = {**(meta.get("labels") or {}), **settings.extra_sandbox_labels, **identity}
    annotations = dict(meta.get("annotations") or {})
    annotations[L.TERMINATION_GRACE] = str(grace_period(pod))
    hostname = spec.get("hostname") or meta.get("name", "")
    ports = []
    for container in spec.get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                ports.append(
                    pb.PortMapping(
                        # Value(): the enum's number, which the stub types as a plain int
                        protocol=cast(pb.Protocol, pb.Protocol.Value(port.get("protocol", "TCP"))),
                        container_port=int(port["containerPort"]),
                        host_port=int(port["hostPort"]),
                        host_ip=port.get("hostIP", ""),
                    )
                )
    namespaces = pb.NamespaceOption(
        network=pb.NODE if host_network else pb.POD,
        pid=_pid_mode(spec),
        ipc=pb.NODE if spec.get("hostIPC") else pb.POD,
    )
    config = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(
            name=meta.get("name", ""),
            uid=meta.get("uid", ""),
            namespace=meta.get("namespace", ""),
            attempt=attempt,
        ),
        hostname="" if host_network else hostname[:63],
        log_directory=log_directory(settings, pod),
        port_mappings=ports,
        labels=labels,
        annotations=annotations,
        linux=pb.LinuxPodSandboxConfig(
            cgroup_parent=settings.cgroup_parent,
            security_context=sandbox_security(
                pod, namespaces, seccomp_root=settings.seccomp_root, seccomp_default=settings.seccomp_default
            ),
            sysctls=pod_sysctls(pod),
        ),
    )
    dns = _dns(settings, pod)
    if dns is not None:
        config.dns_config.CopyFrom(dns)
    return config


def _pid_mode(spec: Obj) -> pb.NamespaceMode:
    """The node's PID namespace (hostPID), the pod's shared one (shareProcessNamespace, the
    sandbox's pause reaps its zombies), else each container's own."""
    if spec.get("hostPID"):
        return pb.NODE
    return pb.POD if spec.get("shareProcessNamespace") else pb.CONTAINER


def _security(
    pod: Obj, container: Obj, target_id: str, settings: NodeSettings | None
) -> pb.LinuxContainerSecurityContext:
    spec = pod.get("spec") or {}
    namespaces = pb.NamespaceOption(
        network=pb.NODE if spec.get("hostNetwork") else pb.POD,
        pid=pb.TARGET if target_id and _pid_mode(spec) == pb.CONTAINER else _pid_mode(spec),
        ipc=pb.NODE if spec.get("hostIPC") else pb.POD,
        target_id=target_id if _pid_mode(spec) == pb.CONTAINER else "",
    )
    if settings is None:
        return container_security(pod, container, namespaces)
    return container_security(
        pod, container, namespaces,
        seccomp_root=settings.seccomp_root, seccomp_default=settings.seccomp_default,
    )


def container_config(
    pod: Obj,
    container: Obj,
    attempt: int,
    env: Sequence[tuple[str, str]],
    mounts: Sequence[MountSpec],
    *,
    kind: str = L.KIND_APP,
    image_ref: str = "",
    target_id: str = "",
    settings: NodeSettings | None = None,
    devices: Sequence[tuple[str, str]] = (),
) -> pb.ContainerConfig:
    """The CRI ContainerConfig; ``image_ref`` (the resolved image id) wins over the spec's name;
    ``target_id`` (an ephemeral container's target) is the container whose PID namespace it joins;
    ``devices``: (path in the container, host device) of its block volumes."""
    meta = pod.get("metadata") or {}
    name = container.get("name", "")
    env_map = dict(env)
    resources = linux_resources(container.get("resources"), f"container {name!r}: resources")
    return pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name, attempt=attempt),
        image=pb.ImageSpec(image=image_ref or container.get("image", "")),
        command=[expand(str(x), env_map) for x in container.get("command") or []],
        args=[expand(str(x), env_map) for x in container.get("args") or []],
        working_dir=container.get("workingDir", ""),
        envs=[pb.KeyValue(key=k, value=v) for k, v in env],
        mounts=[
            pb.Mount(container_path=m.container_path, host_path=m.host_path, readonly=m.readonly,
                     propagation=_PROPAGATION.get(m.propagation, pb.PROPAGATION_PRIVATE))
            for m in mounts
        ],
        devices=[pb.Device(container_path=inside, host_path=host, permissions="rwm")
                 for inside, host in devices],
        labels={
            L.POD_NAME: meta.get("name", ""),
            L.POD_NAMESPACE: meta.get("namespace", ""),
            L.POD_UID: meta.get("uid", ""),
            L.CONTAINER_NAME: name,
            L.CONTAINER_KIND: kind,
            L.MANAGED_BY: L.MANAGED_BY_VALUE,
        },
        annotations={
            "io.kubernetes.container.restartCount": str(attempt),
            "kprov.io/image": container.get("image", ""),
        },
        log_path=f"{name}/{attempt}.log",
        stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdinOnce")),
        tty=bool(container.get("tty")),
        linux=pb.LinuxContainerConfig(
            resources=pb.LinuxContainerResources(
                cpu_shares=resources.cpu_shares,
                cpu_quota=resources.cpu_quota,
                cpu_period=resources.cpu_period,
                memory_limit_in_bytes=resources.memory_limit_in_bytes,
            ),
            security_context=_security(pod, container, target_id, settings),
        ),
    )
