"""What a CIS check reads and what it answers: plain data, JSON-ready.

A :class:`Control` is one recommendation of the CIS Kubernetes Benchmark (v1.10, for
Kubernetes 1.31/1.32) as kprov applies it: its id, a title in kprov's words, where it is
checked (``control_plane``, ``etcd``, ``node`` hosts, or the ``cluster`` through the API),
whether the benchmark scores it as automated, how kprov's component maps to the upstream
binary the control names, the remediation, and the check itself: a pure function from the
evidence of one host (or of the cluster) to a :class:`Finding`. A :class:`Row` is a finding
placed on a host.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["ClusterEvidence", "Control", "Finding", "HostEvidence", "Row", "Status"]


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"  # an automated control kprov cannot judge here, or a manual one with a finding
    MANUAL = "MANUAL"  # a human judges it; the evidence is shown


@dataclass(frozen=True)
class FileStat:
    mode: int  # permission bits only, e.g. 0o600
    owner: str  # "user:group"


@dataclass
class HostEvidence:
    """What one host showed, read in one round trip (:mod:`.host_evidence`)."""

    host: str
    files: dict[str, FileStat] = field(default_factory=dict)  # path -> stat (absent: not there)
    argv: dict[str, list[str]] = field(default_factory=dict)  # systemd unit -> its ExecStart words
    env: dict[str, dict[str, str]] = field(default_factory=dict)  # env file -> KEY=value
    listening: list[tuple[str, int]] = field(default_factory=list)  # TCP (address, port) in LISTEN
    http: dict[str, int] = field(default_factory=dict)  # probe name -> HTTP status (0: refused)
    digests: dict[str, str] = field(default_factory=dict)  # path -> sha256 (public certificates only)
    encryption_providers: list[str] = field(default_factory=list)  # provider names, keys never read out
    error: str = ""


@dataclass
class ClusterEvidence:
    """What the API showed an administrator (:mod:`.cluster_evidence`)."""

    access: dict[str, bool] = field(default_factory=dict)  # SubjectAccessReview probe -> allowed
    http: dict[str, int] = field(default_factory=dict)  # admin GET path -> status
    cluster_role_bindings: list[dict[str, Any]] = field(default_factory=list)
    cluster_roles: list[dict[str, Any]] = field(default_factory=list)
    namespaces: list[dict[str, Any]] = field(default_factory=list)
    service_accounts: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    network_policies: list[dict[str, Any]] | None = None  # None: the API does not serve them
    default_namespace_objects: list[str] = field(default_factory=list)
    error: str = ""


@dataclass(frozen=True)
class Finding:
    status: Status
    evidence: str


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    scope: str  # control_plane | etcd | node | cluster
    automated: bool
    remediation: str
    check: Callable[[Any], Finding] = field(compare=False)
    mapping: str = ""  # how kprov's component stands for the binary the control names


@dataclass(frozen=True)
class Row:
    id: str
    title: str
    scope: str
    host: str
    status: Status
    automated: bool
    evidence: str
    remediation: str
    mapping: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "scope": self.scope,
            "host": self.host,
            "status": self.status.value,
            "automated": self.automated,
            "evidence": self.evidence,
            "remediation": self.remediation,
            "mapping": self.mapping,
        }
