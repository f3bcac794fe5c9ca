"""The catalog of a cluster's certificates and kubeconfigs: a pure function of the topology.

Names are paths below the pki directory without the suffix (``etcd/h1/server`` means
``etcd/h1/server.crt`` + ``.key``). Two CAs: ``ca`` (cluster) and ``etcd/ca``.

    ca                               cluster CA
    apiserver                        API server serving cert
    apiserver-kubelet-client         API server -> kubelet (logs, exec)
    front-proxy-ca                   front-proxy CA (extension API servers trust it for X-Remote-*)
    front-proxy-client               API server -> servers behind APIServices
    metrics-server                   kprov-metrics-server's HTTPS endpoint (metrics-server.kube-system.svc)
    metrics-server-client            kprov-metrics-server -> API server (system:kprov:metrics-server)
    registry                         the image mirror on every control-plane host (role registry)
    admin, scheduler, controller-manager, kube-proxy    component/admin client certs
    kube-dns                         kprov-dns (system:kprov:kube-dns)
    ingress-controller               kprov-ingress (system:kprov:ingress-controller)
    kubelet/<node>/client            kubelet -> API server (system:node:<node>)
    kubelet/<node>/serving           kubelet's HTTPS endpoint (:10250)
    etcd/ca                          etcd CA
    etcd/<member>/server, etcd/<member>/peer            per etcd member
    etcd/apiserver-etcd-client       API server -> etcd
    etcd/admin                       etcdctl on members and kprov's etcd operations
    kubeconfigs/<user>.conf, kubelet/<node>/kubelet.conf
"""

from __future__ import annotations

from dataclasses import dataclass

from kprov.pki import identities as ids
from kprov.pki.topology import ClusterTopology, PkiHost, is_ip

__all__ = [
    "CLUSTER_CA",
    "ETCD_ADMIN_CN",
    "ETCD_CA",
    "FRONT_PROXY_CA",
    "REGISTRY_CN",
    "CertSpec",
    "KubeconfigSpec",
    "cert_specs",
    "kubeconfig_specs",
]

CLUSTER_CA = "ca"
ETCD_CA = "etcd/ca"
FRONT_PROXY_CA = "front-proxy-ca"
ETCD_ADMIN_CN = "kprov-etcd-admin"
REGISTRY_CN = "kprov-registry"
_LOOPBACK_NAMES = ("localhost",)
_LOOPBACK_IPS = ("127.0.0.1",)


@dataclass(frozen=True)
class CertSpec:
    """One leaf certificate: where it lives, who signs it and what it must say."""

    name: str
    ca: str
    common_name: str
    organizations: tuple[str, ...] = ()
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    server: bool = False
    client: bool = False


@dataclass(frozen=True)
class KubeconfigSpec:
    """A kubeconfig embedding the cert ``cert`` for ``user``."""

    path: str
    cert: str
    user: str
    per_server_contexts: bool = False  # also a context per API server (for kubectl: the admin's)
    # which server it names: "admin" (the VIP when there is one), "node" (the node-local load
    # balancer when there is a VIP), "servers" (the API servers, with kprov's failover list)
    route: str = "servers"


def _dedup(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _host_sans(host: PkiHost) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return _dedup([*host.dns_names, *_LOOPBACK_NAMES]), _dedup([*host.ips, *_LOOPBACK_IPS])


def _apiserver_spec(topo: ClusterTopology) -> CertSpec:
    domain = topo.cluster_domain
    dns = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", f"kubernetes.default.svc.{domain}"]
    ips = [topo.service_ip, *([topo.service_ipv6] if topo.service_ipv6 else [])]
    for name in topo.control_plane:
        host = topo.hosts[name]
        dns += host.dns_names
        ips += host.ips
    endpoint = topo.apiserver_host
    if endpoint:
        (ips if is_ip(endpoint) else dns).append(endpoint)
    if topo.apiserver_vip:
        ips.append(topo.apiserver_vip)
    dns += [*topo.extra_apiserver_names, *_LOOPBACK_NAMES]
    ips += _LOOPBACK_IPS
    return CertSpec(
        "apiserver", CLUSTER_CA, "kube-apiserver", (), _dedup(dns), _dedup(ips), server=True
    )


def _registry_spec(topo: ClusterTopology) -> CertSpec:
    """One serving cert for every control-plane host's mirror: nodes reach each by its address."""
    dns: list[str] = []
    ips: list[str] = []
    for name in topo.control_plane:
        host = topo.hosts[name]
        dns += host.dns_names
        ips += host.ips
    return CertSpec("registry", CLUSTER_CA, REGISTRY_CN, (), _dedup([*dns, *_LOOPBACK_NAMES]),
                    _dedup([*ips, *_LOOPBACK_IPS]), server=True)


def _metrics_server_spec(topo: ClusterTopology) -> CertSpec:
    """One serving cert for the metrics servers on every control-plane host: the aggregator
    checks it for metrics-server.kube-system.svc (the APIService's caBundle is the cluster CA)."""
    dns = ["metrics-server", "metrics-server.kube-system", "metrics-server.kube-system.svc",
           f"metrics-server.kube-system.svc.{topo.cluster_domain}"]
    ips: list[str] = []
    for name in topo.control_plane:
        dns += topo.hosts[name].dns_names
        ips += topo.hosts[name].ips
    return CertSpec("metrics-server", CLUSTER_CA, "metrics-server", (), _dedup(dns), _dedup(ips), server=True)


def cert_specs(topo: ClusterTopology) -> list[CertSpec]:
    """Every leaf certificate the cluster needs, in a stable order."""
    specs: list[CertSpec] = [_apiserver_spec(topo)]
    if topo.control_plane:
        specs.append(_registry_spec(topo))
        specs.append(_metrics_server_spec(topo))
    specs.append(
        CertSpec("apiserver-kubelet-client", CLUSTER_CA, ids.APISERVER_KUBELET_CLIENT_CN,
                 (ids.MASTERS_GROUP,), client=True)
    )
    specs.append(CertSpec("front-proxy-client", FRONT_PROXY_CA, ids.FRONT_PROXY_CLIENT_CN, client=True))
    specs.append(CertSpec("admin", CLUSTER_CA, ids.ADMIN_CN, (ids.MASTERS_GROUP,), client=True))
    specs.append(CertSpec("scheduler", CLUSTER_CA, ids.SCHEDULER_CN, client=True))
    specs.append(CertSpec("controller-manager", CLUSTER_CA, ids.CONTROLLER_MANAGER_CN, client=True))
    specs.append(CertSpec("kube-proxy", CLUSTER_CA, ids.KUBE_PROXY_CN, client=True))
    specs.append(CertSpec("kube-dns", CLUSTER_CA, ids.KUBE_DNS_CN, client=True))
    specs.append(CertSpec("metrics-server-client", CLUSTER_CA, ids.METRICS_SERVER_CN, client=True))
    specs.append(CertSpec("ingress-controller", CLUSTER_CA, ids.INGRESS_CONTROLLER_CN, client=True))
    for name in topo.kubelets:
        host = topo.hosts[name]
        specs.append(
            CertSpec(f"kubelet/{name}/client", CLUSTER_CA, ids.kubelet_cn(name), (ids.NODES_GROUP,),
                     client=True)
        )
        specs.append(
            CertSpec(f"kubelet/{name}/serving", CLUSTER_CA, ids.kubelet_cn(name), (ids.NODES_GROUP,),
                     host.dns_names, host.ips, server=True)
        )
    specs.append(
        CertSpec("etcd/apiserver-etcd-client", ETCD_CA, ids.APISERVER_ETCD_CLIENT_CN, client=True)
    )
    specs.append(CertSpec("etcd/admin", ETCD_CA, ETCD_ADMIN_CN, client=True))
    for name in topo.etcd:
        dns, ips = _host_sans(topo.hosts[name])
        # etcd uses its server cert as a client too (gRPC gateway), and peers are both.
        specs.append(CertSpec(f"etcd/{name}/server", ETCD_CA, name, (), dns, ips, server=True, client=True))
        specs.append(CertSpec(f"etcd/{name}/peer", ETCD_CA, name, (), dns, ips, server=True, client=True))
    return specs


def kubeconfig_specs(topo: ClusterTopology) -> list[KubeconfigSpec]:
    """Every kubeconfig the cluster needs (the server URL comes from the topology)."""
    confs = [
        KubeconfigSpec("kubeconfigs/admin.conf", "admin", ids.ADMIN_CN, per_server_contexts=True,
                       route="admin"),
        KubeconfigSpec("kubeconfigs/scheduler.conf", "scheduler", ids.SCHEDULER_CN),
        KubeconfigSpec(
            "kubeconfigs/controller-manager.conf", "controller-manager", ids.CONTROLLER_MANAGER_CN
        ),
        KubeconfigSpec("kubeconfigs/kube-proxy.conf", "kube-proxy", ids.KUBE_PROXY_CN, route="node"),
        KubeconfigSpec("kubeconfigs/kube-dns.conf", "kube-dns", ids.KUBE_DNS_CN),
        KubeconfigSpec("kubeconfigs/metrics-server.conf", "metrics-server-client", ids.METRICS_SERVER_CN),
        KubeconfigSpec("kubeconfigs/ingress-controller.conf", "ingress-controller", ids.INGRESS_CONTROLLER_CN,
                       route="node"),
    ]
    for name in topo.kubelets:
        confs.append(
            KubeconfigSpec(f"kubelet/{name}/kubelet.conf", f"kubelet/{name}/client", ids.kubelet_cn(name),
                           route="node")
        )
    return confs
