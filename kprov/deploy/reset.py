"""`kprov reset`: remove everything kprov installed, through the reset playbook (roles/reset.yml)."""

from __future__ import annotations

from pathlib import Path

from kprov.deploy.prepare import REPO_ROOT
from kprov.provision.execute.results import RunObserver, RunReport
from kprov.provision.pipelines import run_playbook

__all__ = ["RESET_PLAYBOOK", "reset_cluster"]

RESET_PLAYBOOK = REPO_ROOT / "roles" / "reset.yml"


def reset_cluster(inventory: str | Path, *, limit: str | None = None,
                  observer: RunObserver | None = None) -> RunReport:
    return run_playbook(inventory, RESET_PLAYBOOK, limit=limit, observer=observer)
