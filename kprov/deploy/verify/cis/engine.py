"""Walk the controls over the evidence: one row per control per host it applies to (the
cluster's controls once), in the benchmark's order. Pure: evidence in, rows out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.deploy.verify.cis.model import ClusterEvidence, Control, HostEvidence, Row, Status

__all__ = ["CisReport", "evaluate"]


def _order(control_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in control_id.split("."))


@dataclass
class CisReport:
    rows: list[Row] = field(default_factory=list)

    @property
    def failed(self) -> list[Row]:
        """FAIL rows of automated controls: what makes ``kprov verify --cis`` exit non-zero."""
        return [r for r in self.rows if r.status is Status.FAIL and r.automated]

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.failed

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for r in self.rows if r.status is s) for s in Status}

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "benchmark": "CIS Kubernetes Benchmark v1.10 (Kubernetes 1.31/1.32)",
            "counts": self.counts(),
            "rows": [r.to_dict() for r in self.rows],
        }


def evaluate(
    host_controls: Iterable[Control],
    cluster_controls: Iterable[Control],
    hosts: Mapping[str, HostEvidence],
    scopes: Mapping[str, set[str]],
    cluster: ClusterEvidence | None,
) -> CisReport:
    """``scopes``: host -> the scopes it plays (control_plane, etcd, node)."""
    rows: list[Row] = []
    for control in sorted(host_controls, key=lambda c: _order(c.id)):
        for host, evidence in hosts.items():
            if control.scope not in scopes.get(host, set()):
                continue
            if evidence.error:
                finding_status, text = Status.FAIL, evidence.error
            else:
                finding = control.check(evidence)
                finding_status, text = finding.status, finding.evidence
            rows.append(
                Row(
                    control.id,
                    control.title,
                    control.scope,
                    host,
                    finding_status,
                    control.automated,
                    text,
                    control.remediation,
                    control.mapping,
                )
            )
    if cluster is not None:
        for control in cluster_controls:
            finding = control.check(cluster)
            rows.append(
                Row(
                    control.id,
                    control.title,
                    "cluster",
                    "cluster",
                    finding.status,
                    control.automated,
                    finding.evidence,
                    control.remediation,
                    control.mapping,
                )
            )
    rows.sort(key=lambda r: _order(r.id))
    return CisReport(rows)
