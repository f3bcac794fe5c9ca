"""The fixed x509 identities of the cluster (CN = user, O = groups), shared by every component.

These strings are the contract between the certificates kprov issues and the API server's
authorizer; they are fixed by the project rules and must not change.
"""

from __future__ import annotations

__all__ = [
    "ADMIN_CN",
    "APISERVER_ETCD_CLIENT_CN",
    "APISERVER_KUBELET_CLIENT_CN",
    "CONTROLLER_MANAGER_CN",
    "FRONT_PROXY_CLIENT_CN",
    "INGRESS_CONTROLLER_CN",
    "KUBE_DNS_CN",
    "KUBE_PROXY_CN",
    "MASTERS_GROUP",
    "METRICS_SERVER_CN",
    "NODES_GROUP",
    "SCHEDULER_CN",
    "kubelet_cn",
]

ADMIN_CN = "kubernetes-admin"
MASTERS_GROUP = "system:masters"
SCHEDULER_CN = "system:kube-scheduler"
CONTROLLER_MANAGER_CN = "system:kube-controller-manager"
KUBE_PROXY_CN = "system:kube-proxy"
KUBE_DNS_CN = "system:kprov:kube-dns"
NODES_GROUP = "system:nodes"
APISERVER_KUBELET_CLIENT_CN = "kube-apiserver-kubelet-client"
APISERVER_ETCD_CLIENT_CN = "kube-apiserver-etcd-client"
# the API server's identity towards the servers behind APIServices (signed by the front-proxy
# CA, the name they allow in requestheader-allowed-names), as kubeadm names it
FRONT_PROXY_CLIENT_CN = "front-proxy-client"
METRICS_SERVER_CN = "system:kprov:metrics-server"
INGRESS_CONTROLLER_CN = "system:kprov:ingress-controller"


def kubelet_cn(node_name: str) -> str:
    return f"system:node:{node_name}"
