"""Section 4 of the CIS Kubernetes Benchmark v1.10 (worker nodes) as kprov's nodes answer it:
the kubelet's and kube-proxy's files, the kubelet's settings (flags in its unit; it has no
configuration file), anonymous access asked from the node itself, and kube-proxy's metrics
port. The kubelet unit file's own controls (4.1.1, 4.1.2) sit with the other units'."""

from __future__ import annotations

from kprov.deploy.verify.cis.controls_common import ETC, KUBELET, OWN, PERMS, PKI, control
from kprov.deploy.verify.cis.model import Control
from kprov.deploy.verify.cis.rules import (
    file_mode,
    file_owner,
    flag_absent,
    flag_equals,
    flag_set,
    http_refused,
    listens_local_only,
    port_closed,
)

__all__ = ["NODE_CONTROLS"]

NODE_CONTROLS: list[Control] = [
    control(
        "4.1.3",
        "kube-proxy's kubeconfig is mode 600 or stricter",
        "node",
        file_mode(f"{PKI}/kube-proxy.conf", 0o600),
        PERMS.format(m=600, p=f"{PKI}/kube-proxy.conf"),
    ),
    control(
        "4.1.4",
        "kube-proxy's kubeconfig is owned by root:root",
        "node",
        file_owner(f"{PKI}/kube-proxy.conf"),
        OWN.format(p=f"{PKI}/kube-proxy.conf"),
    ),
    control(
        "4.1.5",
        "the kubelet's kubeconfig is mode 600 or stricter",
        "node",
        file_mode(f"{ETC}/kubelet.conf", 0o600),
        PERMS.format(m=600, p=f"{ETC}/kubelet.conf"),
    ),
    control(
        "4.1.6",
        "the kubelet's kubeconfig is owned by root:root",
        "node",
        file_owner(f"{ETC}/kubelet.conf"),
        OWN.format(p=f"{ETC}/kubelet.conf"),
    ),
    control(
        "4.1.7",
        "the CA the kubelet trusts is mode 644 or stricter",
        "node",
        file_mode(f"{PKI}/ca.crt", 0o644),
        PERMS.format(m=644, p=f"{PKI}/ca.crt"),
    ),
    control(
        "4.1.8",
        "the CA the kubelet trusts is owned by root:root",
        "node",
        file_owner(f"{PKI}/ca.crt"),
        OWN.format(p=f"{PKI}/ca.crt"),
    ),
    control(
        "4.1.9",
        "a kubelet configuration file, if any, is mode 600 or stricter",
        "node",
        file_mode(f"{ETC}/kubelet-config.yaml", 0o600, missing_ok=True),
        PERMS.format(m=600, p=f"{ETC}/kubelet-config.yaml"),
        "kprov's kubelet takes its settings as flags in its unit (4.1.1), not from a file",
    ),
    control(
        "4.1.10",
        "a kubelet configuration file, if any, is owned by root:root",
        "node",
        file_owner(f"{ETC}/kubelet-config.yaml", missing_ok=True),
        OWN.format(p=f"{ETC}/kubelet-config.yaml"),
    ),
    control(
        "4.2.1",
        "the kubelet refuses anonymous requests",
        "node",
        http_refused("kubelet-anonymous", "the kubelet"),
        "kprov-kubelet has no anonymous access to switch on",
        "no --anonymous-auth flag: kprov-kubelet answers only the API server's client certificate"
        " and system:masters",
    ),
    control(
        "4.2.3",
        "the kubelet verifies client certificates against the cluster CA",
        "node",
        flag_set(KUBELET, "--client-ca-file"),
        "set by role kubelet",
    ),
    control(
        "4.2.4",
        "the kubelet's read-only port is closed",
        "node",
        port_closed(10255),
        "kprov-kubelet has no read-only port; stop whatever listens on 10255",
    ),
    control(
        "4.2.7",
        "the kubelet does not override its hostname",
        "node",
        flag_absent(KUBELET, "--hostname-override"),
        "remove --hostname-override from the kubelet's unit",
    ),
    control(
        "4.2.9",
        "the kubelet serves TLS with its own certificate",
        "node",
        flag_set(KUBELET, "--tls-cert-file", "--tls-private-key-file"),
        "set by role kubelet",
    ),
    control(
        "4.2.10",
        "the kubelet rotates its client certificate",
        "node",
        flag_equals(KUBELET, "--rotate-certificates", "true"),
        "set by role kubelet (kubelet_rotate_certificates: true): renewed through"
        " kube-apiserver-client-kubelet CSRs",
    ),
    control(
        "4.3.1",
        "kube-proxy's metrics are served on loopback only",
        "node",
        listens_local_only(10249, "kprov-proxy metrics"),
        "--metrics-bind-address=127.0.0.1:10249 (its default)",
    ),
]
