"""kprov.pki: certificate authorities, certificates, kubeconfigs and API server secrets.

Library API (stable; other components build on it):

- :func:`new_ca`, :func:`issue_cert` -> :class:`KeyPair` (``.cert``, ``.key``, ``.cert_pem``,
  ``.key_pem``)
- PEM files: :func:`write_pair` / :func:`read_pair` (``<dir>/<name>.crt|.key``),
  :func:`write_keypair` / :func:`read_keypair`, :func:`load_cert`, :func:`write_file`
- :func:`write_kubeconfig` / :func:`render_kubeconfig`
- identities (CN/O constants) in :mod:`kprov.pki.identities`
"""

from kprov.pki.identities import (
    ADMIN_CN,
    APISERVER_ETCD_CLIENT_CN,
    APISERVER_KUBELET_CLIENT_CN,
    CONTROLLER_MANAGER_CN,
    FRONT_PROXY_CLIENT_CN,
    KUBE_PROXY_CN,
    MASTERS_GROUP,
    NODES_GROUP,
    SCHEDULER_CN,
    kubelet_cn,
)
from kprov.pki.keypair import CA_DAYS, LEAF_DAYS, KeyPair, issue_cert, new_ca, new_private_key
from kprov.pki.kubeconfig import kubeconfig_dict, render_kubeconfig, write_kubeconfig
from kprov.pki.pem import (
    CERT_MODE,
    KEY_MODE,
    load_cert,
    pair_paths,
    read_keypair,
    read_pair,
    write_file,
    write_keypair,
    write_pair,
)
from kprov.pki.secrets import encryption_config, new_service_account_key

__all__ = [
    "ADMIN_CN",
    "APISERVER_ETCD_CLIENT_CN",
    "APISERVER_KUBELET_CLIENT_CN",
    "CA_DAYS",
    "CERT_MODE",
    "CONTROLLER_MANAGER_CN",
    "FRONT_PROXY_CLIENT_CN",
    "KEY_MODE",
    "KUBE_PROXY_CN",
    "LEAF_DAYS",
    "MASTERS_GROUP",
    "NODES_GROUP",
    "SCHEDULER_CN",
    "KeyPair",
    "encryption_config",
    "issue_cert",
    "kubeconfig_dict",
    "kubelet_cn",
    "load_cert",
    "new_ca",
    "new_private_key",
    "new_service_account_key",
    "pair_paths",
    "read_keypair",
    "read_pair",
    "render_kubeconfig",
    "write_file",
    "write_keypair",
    "write_kubeconfig",
    "write_pair",
]
