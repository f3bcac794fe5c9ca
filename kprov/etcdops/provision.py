"""Running the etcd role on one host through the engine (the same role `kprov apply` runs),
for a member that joins an existing cluster."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml

from kprov.etcdops.cluster import ETCD_GROUP, EtcdOpsError
from kprov.provision.pipelines import run_playbook

__all__ = ["ROLES_DIR", "provision_member"]

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"


def _play(host: str) -> list[dict[str, Any]]:
    return [
        {
            "name": f"etcd member {host}",
            "hosts": ETCD_GROUP,
            "become": True,
            "gather_facts": False,
            "roles": ["etcd"],
        }
    ]


def provision_member(inventory_path: str | Path, host: str, extra_vars: dict[str, Any]) -> float:
    """Apply roles/etcd to ``host`` only, with ``extra_vars``; the run's seconds, or EtcdOpsError."""
    with tempfile.TemporaryDirectory(prefix="kprov-etcd-") as tmp:
        playbook = Path(tmp) / "etcd-member.yml"
        playbook.write_text(yaml.safe_dump(_play(host), sort_keys=False))
        report = run_playbook(
            inventory_path, playbook, extra_vars=extra_vars, limit=host, roles_path=[ROLES_DIR]
        )
    if not report.ok:
        failed = [f"{r.task}: {r.msg}" for r in report.results if r.status in ("failed", "unreachable")]
        detail = "; ".join(failed + report.errors) or "see " + report.log_path
        raise EtcdOpsError(f"provisioning etcd on {host} failed: {detail}")
    return report.duration_s
