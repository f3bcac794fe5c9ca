"""Sections 1-4 of the CIS Kubernetes Benchmark v1.10 as kprov's hosts answer them (section 4,
the worker nodes' controls, in :mod:`.controls_nodes`).

kprov runs its components as systemd units, not static pods, so "the pod specification
file" of a control is the component's unit file, whose ExecStart holds its flags; its
kubeconfigs and certificates live under /etc/kprov (the roles' defaults). Controls whose
upstream flag kprov's component does not have are mapped to the behaviour the flag
controls and checked by behaviour where that can be observed (an anonymous request from
the host itself), else reported WARN with the mapping.
"""

from __future__ import annotations

from kprov.deploy.verify.cis.controls_common import (
    APISERVER,
    AUDIT_POLICY,
    CM,
    ENCRYPTION_CONFIG,
    ETC,
    ETCD,
    ETCD_ENV,
    KUBELET,
    OWN,
    PERMS,
    PKI,
    SCHED,
    STRONG_PROVIDERS,
    UNIT_MAP,
    UNIT_NAMES,
    UNITS,
    all_of,
    control,
    file_present,
)
from kprov.deploy.verify.cis.controls_nodes import NODE_CONTROLS
from kprov.deploy.verify.cis.host_evidence import EvidenceSpec
from kprov.deploy.verify.cis.model import Control, Finding, HostEvidence, Status
from kprov.deploy.verify.cis.rules import (
    env_equals,
    env_not_true,
    env_set,
    file_mode,
    file_owner,
    flag_absent,
    flag_equals,
    flag_excludes,
    flag_min,
    flag_set,
    http_refused,
    listens_local_only,
)

__all__ = ["HOST_CONTROLS", "evidence_spec"]


def evidence_spec(apiserver_port: int = 6443, kubelet_port: int = 10250) -> EvidenceSpec:
    """Everything the host controls read, asked of every host (a worker simply has fewer)."""
    return EvidenceSpec(
        files=[
            *(f"{UNITS}/{u}.service" for u in UNIT_NAMES),
            "/etc/cni/net.d/*",
            "/var/lib/kprov/etcd",
            f"{ETC}/admin.conf",
            f"{PKI}/admin.conf",
            f"{PKI}/scheduler.conf",
            f"{PKI}/controller-manager.conf",
            f"{PKI}",
            f"{PKI}/*",
            f"{PKI}/etcd/*",
            f"{PKI}/kube-proxy.conf",
            f"{ETC}/kubelet.conf",
            f"{ETC}/kubelet-config.yaml",
            AUDIT_POLICY,
        ],
        units={u: f"{UNITS}/{u}.service" for u in UNIT_NAMES},
        env=[ETCD_ENV],
        http={
            "apiserver-anonymous": f"https://127.0.0.1:{apiserver_port}/api/v1/namespaces",
            "kubelet-anonymous": f"https://127.0.0.1:{kubelet_port}/stats/summary",
        },
        digests=[f"{PKI}/ca.crt", f"{PKI}/etcd/ca.crt"],
        encryption=ENCRYPTION_CONFIG,
    )


def _encryption_providers(ev: HostEvidence) -> Finding:
    if not ev.encryption_providers:
        return Finding(Status.FAIL, f"{ENCRYPTION_CONFIG}: no providers found")
    first = ev.encryption_providers[0]
    status = Status.PASS if first in STRONG_PROVIDERS else Status.FAIL
    return Finding(status, f"providers in order: {', '.join(ev.encryption_providers)} (writes use {first})")


def _unique_etcd_ca(ev: HostEvidence) -> Finding:
    cluster, etcd = ev.digests.get(f"{PKI}/ca.crt"), ev.digests.get(f"{PKI}/etcd/ca.crt")
    if not etcd:
        return Finding(Status.FAIL, f"{PKI}/etcd/ca.crt: not present")
    if cluster == etcd:
        return Finding(Status.FAIL, "etcd's CA is the cluster CA")
    return Finding(Status.PASS, f"etcd CA sha256 {etcd[:16]}… differs from the cluster CA")


def _unit_controls() -> list[Control]:
    rows = []
    for (mode_id, own_id), unit, scope in (
        (("1.1.1", "1.1.2"), APISERVER, "control_plane"),
        (("1.1.3", "1.1.4"), CM, "control_plane"),
        (("1.1.5", "1.1.6"), SCHED, "control_plane"),
        (("1.1.7", "1.1.8"), ETCD, "etcd"),
        (("4.1.1", "4.1.2"), KUBELET, "node"),
    ):
        path = f"{UNITS}/{unit}.service"
        rows.append(
            control(
                mode_id,
                f"{unit}'s unit file is mode 600 or stricter",
                scope,
                file_mode(path, 0o600),
                PERMS.format(m=600, p=path),
                UNIT_MAP,
            )
        )
        rows.append(
            control(
                own_id,
                f"{unit}'s unit file is owned by root:root",
                scope,
                file_owner(path),
                OWN.format(p=path),
                UNIT_MAP,
            )
        )
    return rows


HOST_CONTROLS: list[Control] = [
    *_unit_controls(),
    control(
        "1.1.9",
        "CNI configuration files are mode 600 or stricter",
        "node",
        file_mode("/etc/cni/net.d/*", 0o600, missing_ok=True),
        PERMS.format(m=600, p="/etc/cni/net.d/*"),
    ),
    control(
        "1.1.10",
        "CNI configuration files are owned by root:root",
        "node",
        file_owner("/etc/cni/net.d/*", missing_ok=True),
        OWN.format(p="/etc/cni/net.d/*"),
    ),
    control(
        "1.1.11",
        "etcd's data directory is mode 700 or stricter",
        "etcd",
        file_mode("/var/lib/kprov/etcd", 0o700),
        PERMS.format(m=700, p="/var/lib/kprov/etcd"),
    ),
    control(
        "1.1.12",
        "etcd's data directory is owned by the user etcd runs as",
        "etcd",
        file_owner("/var/lib/kprov/etcd"),
        "chown -R root:root /var/lib/kprov/etcd",
        "kprov runs etcd as root (etcd_user), so root:root stands for etcd:etcd",
    ),
    control(
        "1.1.13",
        "no admin kubeconfig on the host, or one of mode 600",
        "control_plane",
        file_mode(f"{ETC}/admin.conf", 0o600, missing_ok=True),
        PERMS.format(m=600, p=f"{ETC}/admin.conf"),
        "kprov keeps admin.conf beside the inventory on the operator's machine, not on hosts",
    ),
    control(
        "1.1.14",
        "an admin kubeconfig on the host is owned by root:root",
        "control_plane",
        file_owner(f"{ETC}/admin.conf", missing_ok=True),
        OWN.format(p=f"{ETC}/admin.conf"),
    ),
    control(
        "1.1.15",
        "the scheduler's kubeconfig is mode 600 or stricter",
        "control_plane",
        file_mode(f"{PKI}/scheduler.conf", 0o600),
        PERMS.format(m=600, p=f"{PKI}/scheduler.conf"),
    ),
    control(
        "1.1.16",
        "the scheduler's kubeconfig is owned by root:root",
        "control_plane",
        file_owner(f"{PKI}/scheduler.conf"),
        OWN.format(p=f"{PKI}/scheduler.conf"),
    ),
    control(
        "1.1.17",
        "the controller manager's kubeconfig is mode 600 or stricter",
        "control_plane",
        file_mode(f"{PKI}/controller-manager.conf", 0o600),
        PERMS.format(m=600, p=f"{PKI}/controller-manager.conf"),
    ),
    control(
        "1.1.18",
        "the controller manager's kubeconfig is owned by root:root",
        "control_plane",
        file_owner(f"{PKI}/controller-manager.conf"),
        OWN.format(p=f"{PKI}/controller-manager.conf"),
    ),
    control(
        "1.1.19",
        "the PKI directory and its files are owned by root:root",
        "control_plane",
        lambda ev: all_of(
            ev, file_owner(PKI), file_owner(f"{PKI}/*"), file_owner(f"{PKI}/etcd/*", missing_ok=True)
        ),
        f"chown -R root:root {PKI}",
    ),
    control(
        "1.1.20",
        "PKI certificates are mode 644 or stricter",
        "control_plane",
        lambda ev: all_of(
            ev, file_mode(f"{PKI}/*.crt", 0o644), file_mode(f"{PKI}/etcd/*.crt", 0o644, missing_ok=True)
        ),
        f"chmod 644 {PKI}/*.crt",
    ),
    control(
        "1.1.21",
        "PKI private keys are mode 600",
        "control_plane",
        lambda ev: all_of(
            ev, file_mode(f"{PKI}/*.key", 0o600), file_mode(f"{PKI}/etcd/*.key", 0o600, missing_ok=True)
        ),
        f"chmod 600 {PKI}/*.key",
    ),
    control(
        "1.2.1",
        "the API server refuses anonymous requests",
        "control_plane",
        http_refused("apiserver-anonymous", "the API server"),
        "kprov-apiserver has no anonymous access to switch on",
        "no --anonymous-auth flag: kprov-apiserver refuses anonymous requests but health and version"
        " paths; checked by asking",
    ),
    control(
        "1.2.2",
        "no static token file authenticates users",
        "control_plane",
        flag_absent(APISERVER, "--token-auth-file"),
        "remove --token-auth-file from apiserver_extra_args",
    ),
    control(
        "1.2.4",
        "the API server presents a client certificate to kubelets",
        "control_plane",
        flag_set(APISERVER, "--kubelet-client-certificate", "--kubelet-client-key"),
        "set by role apiserver (apiserver_args)",
    ),
    control(
        "1.2.5",
        "the API server verifies kubelets' serving certificates",
        "control_plane",
        flag_set(APISERVER, "--kubelet-certificate-authority"),
        "set by role apiserver (apiserver_args): the cluster CA, which signs every kubelet's serving"
        " certificate",
    ),
    control(
        "1.2.10",
        "the AlwaysAdmit admission plugin is not enabled",
        "control_plane",
        flag_excludes(APISERVER, "--enable-admission-plugins", "AlwaysAdmit"),
        "remove AlwaysAdmit from --enable-admission-plugins",
    ),
    control(
        "1.2.12",
        "the ServiceAccount admission plugin is not disabled",
        "control_plane",
        flag_excludes(APISERVER, "--disable-admission-plugins", "ServiceAccount"),
        "remove ServiceAccount from --disable-admission-plugins",
    ),
    control(
        "1.2.13",
        "the NamespaceLifecycle admission plugin is not disabled",
        "control_plane",
        flag_excludes(APISERVER, "--disable-admission-plugins", "NamespaceLifecycle"),
        "remove NamespaceLifecycle from --disable-admission-plugins",
    ),
    control(
        "1.2.16",
        "audit logging is on",
        "control_plane",
        flag_set(APISERVER, "--audit-log-path"),
        "set apiserver_audit_log_path (role apiserver)",
    ),
    control(
        "1.2.17",
        "audit logs are kept at least 30 days",
        "control_plane",
        flag_min(APISERVER, "--audit-log-maxage", 30),
        "set apiserver_audit_log_maxage: 30 (role apiserver)",
    ),
    control(
        "1.2.18",
        "at least 10 rotated audit logs are kept",
        "control_plane",
        flag_min(APISERVER, "--audit-log-maxbackup", 10),
        "set apiserver_audit_log_maxbackup: 10 (role apiserver)",
    ),
    control(
        "1.2.19",
        "audit logs rotate at 100 MB or more",
        "control_plane",
        flag_min(APISERVER, "--audit-log-maxsize", 100),
        "set apiserver_audit_log_maxsize: 100 (role apiserver)",
    ),
    control(
        "1.2.22",
        "ServiceAccount tokens are verified with a key file",
        "control_plane",
        flag_set(APISERVER, "--service-account-key-file"),
        "set by role apiserver",
    ),
    control(
        "1.2.23",
        "the API server authenticates to etcd with a client certificate",
        "control_plane",
        flag_set(APISERVER, "--etcd-certfile", "--etcd-keyfile"),
        "set by role apiserver",
    ),
    control(
        "1.2.24",
        "the API server serves TLS with its own certificate",
        "control_plane",
        flag_set(APISERVER, "--tls-cert-file", "--tls-private-key-file"),
        "set by role apiserver",
    ),
    control(
        "1.2.25",
        "the API server verifies client certificates against the cluster CA",
        "control_plane",
        flag_set(APISERVER, "--client-ca-file"),
        "set by role apiserver",
    ),
    control(
        "1.2.26",
        "the API server verifies etcd's certificate",
        "control_plane",
        flag_set(APISERVER, "--etcd-cafile"),
        "set by role apiserver",
    ),
    control(
        "1.2.27",
        "Secrets are encrypted at rest",
        "control_plane",
        flag_set(APISERVER, "--encryption-provider-config"),
        "set by role apiserver",
    ),
    control(
        "1.2.28",
        "the encryption provider that writes is a strong one",
        "control_plane",
        _encryption_providers,
        f"put aescbc, aesgcm, secretbox or kms first in {ENCRYPTION_CONFIG}",
    ),
    control(
        "1.3.3",
        "controllers act with one ServiceAccount each",
        "control_plane",
        flag_equals(CM, "--use-service-account-credentials", "true"),
        "set by role controller_manager (controller_manager_args); each controller then acts as"
        " kube-system/<its name> with role system:controller:<its name>",
    ),
    control(
        "1.3.4",
        "the controller manager signs ServiceAccount tokens with a key file",
        "control_plane",
        flag_set(CM, "--service-account-private-key-file"),
        "set by role controller_manager",
    ),
    control(
        "1.3.5",
        "the controller manager publishes the cluster CA to ServiceAccounts",
        "control_plane",
        flag_set(CM, "--root-ca-file"),
        "set by role controller_manager (controller_manager_args)",
    ),
    control(
        "1.3.7",
        "the controller manager's secure port is bound to loopback",
        "control_plane",
        listens_local_only(10257, "kprov-controller-manager"),
        "--bind-address=127.0.0.1 (role controller_manager)",
    ),
    control(
        "1.4.2",
        "the scheduler's secure port is bound to loopback",
        "control_plane",
        listens_local_only(10259, "kprov-scheduler"),
        "--bind-address=127.0.0.1 (role scheduler)",
    ),
    control(
        "2.1",
        "etcd serves clients over TLS",
        "etcd",
        env_set(ETCD_ENV, "ETCD_CERT_FILE", "ETCD_KEY_FILE"),
        "set by role etcd (etcd.env)",
        "etcd's flags are read from the environment file the unit loads",
    ),
    control(
        "2.2",
        "etcd requires client certificates",
        "etcd",
        env_equals(ETCD_ENV, "ETCD_CLIENT_CERT_AUTH", "true"),
        "ETCD_CLIENT_CERT_AUTH=true (role etcd)",
    ),
    control(
        "2.3",
        "etcd does not make its own client certificates",
        "etcd",
        env_not_true(ETCD_ENV, "ETCD_AUTO_TLS"),
        "remove ETCD_AUTO_TLS from etcd_extra_env",
    ),
    control(
        "2.4",
        "etcd peers talk over TLS",
        "etcd",
        env_set(ETCD_ENV, "ETCD_PEER_CERT_FILE", "ETCD_PEER_KEY_FILE"),
        "set by role etcd (etcd.env)",
    ),
    control(
        "2.5",
        "etcd peers require client certificates",
        "etcd",
        env_equals(ETCD_ENV, "ETCD_PEER_CLIENT_CERT_AUTH", "true"),
        "ETCD_PEER_CLIENT_CERT_AUTH=true (role etcd)",
    ),
    control(
        "2.6",
        "etcd peers do not make their own certificates",
        "etcd",
        env_not_true(ETCD_ENV, "ETCD_PEER_AUTO_TLS"),
        "remove ETCD_PEER_AUTO_TLS from etcd_extra_env",
    ),
    control(
        "2.7", "etcd has a CA of its own", "etcd", _unique_etcd_ca, "kprov's PKI makes a separate etcd CA"
    ),
    control(
        "3.2.1",
        "an audit policy is in place",
        "control_plane",
        lambda ev: all_of(ev, flag_set(APISERVER, "--audit-policy-file"), file_present(AUDIT_POLICY)),
        "set apiserver_audit_policy (role apiserver)",
    ),
    *NODE_CONTROLS,
]
