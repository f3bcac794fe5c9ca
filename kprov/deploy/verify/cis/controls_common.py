"""What the host controls share: where kprov puts things on a host (the roles' defaults),
its units' names, and the small helpers the control tables are written with."""

from __future__ import annotations

from kprov.deploy.verify.cis.model import Control, Finding, HostEvidence, Status
from kprov.deploy.verify.cis.rules import HostCheck

__all__ = [
    "APISERVER",
    "AUDIT_POLICY",
    "CM",
    "ENCRYPTION_CONFIG",
    "ETC",
    "ETCD",
    "ETCD_ENV",
    "KUBELET",
    "OWN",
    "PERMS",
    "PKI",
    "PROXY",
    "SCHED",
    "STRONG_PROVIDERS",
    "UNITS",
    "UNIT_MAP",
    "UNIT_NAMES",
    "all_of",
    "control",
    "file_present",
]

UNITS = "/etc/systemd/system"
ETC = "/etc/kprov"
PKI = "/etc/kprov/pki"
ETCD_ENV = "/etc/kprov/etcd.env"
ENCRYPTION_CONFIG = f"{PKI}/encryption-config.yaml"
AUDIT_POLICY = f"{ETC}/audit-policy.yaml"
APISERVER, CM, SCHED, ETCD, KUBELET, PROXY = (
    "kprov-apiserver",
    "kprov-controller-manager",
    "kprov-scheduler",
    "kprov-etcd",
    "kprov-kubelet",
    "kprov-proxy",
)
UNIT_NAMES = (APISERVER, CM, SCHED, ETCD, KUBELET, PROXY)
STRONG_PROVIDERS = ("aescbc", "aesgcm", "secretbox", "kms")


def file_present(path: str) -> HostCheck:
    def check(ev: HostEvidence) -> Finding:
        return (
            Finding(Status.PASS, f"{path} present")
            if path in ev.files
            else Finding(Status.FAIL, f"{path}: not present")
        )

    return check


def control(
    id: str,
    title: str,
    scope: str,
    check: HostCheck,
    remediation: str,
    mapping: str = "",
    automated: bool = True,
) -> Control:
    return Control(id, title, scope, automated, remediation, check, mapping)


UNIT_MAP = "kprov runs it as a systemd unit: the unit file stands for the static pod manifest"
PERMS = "kprov apply sets it (roles' template/copy mode); fix by hand: chmod {m} {p}"
OWN = "chown root:root {p}"


def all_of(ev: HostEvidence, *checks: HostCheck) -> Finding:
    findings = [check(ev) for check in checks]
    failed = [f for f in findings if f.status is Status.FAIL]
    return Finding(
        Status.FAIL if failed else Status.PASS, "; ".join(f.evidence for f in (failed or findings))
    )
