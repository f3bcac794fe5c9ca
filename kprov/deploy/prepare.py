"""Operator-side phases that run before the cluster playbook touches any host.

Two artifacts are made on the operator machine, both idempotent and cheap when current:
the cluster PKI next to the inventory (``kprov pki init``) and the wheelhouse of kprov's
code (``kprov.bundle``). Their locations become extra variables of the run, which is what
roles/site.yml expects (``ansible-playbook`` users pass the same variables with ``-e``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kprov.bundle import Wheelhouse, build_wheelhouse
from kprov.pki.from_inventory import ensure_inventory_pki
from kprov.pki.store import PkiReport

__all__ = ["REPO_ROOT", "SITE_PLAYBOOK", "PreparedCluster", "is_cluster_playbook", "prepare_cluster"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SITE_PLAYBOOK = REPO_ROOT / "roles" / "site.yml"


@dataclass(frozen=True)
class PreparedCluster:
    """What the operator-side phases produced, and the variables that point at it."""

    pki_dir: Path
    pki_report: PkiReport
    wheelhouse: Wheelhouse

    @property
    def extra_vars(self) -> dict[str, str]:
        return {
            "kprov_pki_dir": str(self.pki_dir),
            "kprov_wheelhouse_archive": str(self.wheelhouse.archive),
            "kprov_wheelhouse_digest": self.wheelhouse.digest,
        }


def is_cluster_playbook(playbook: Path) -> bool:
    """True for kprov's own cluster playbook (the one that needs PKI and a wheelhouse)."""
    return playbook.resolve() == SITE_PLAYBOOK.resolve()


def prepare_cluster(inventory: str | Path, repo_root: Path = REPO_ROOT) -> PreparedCluster:
    """Make the PKI and the wheelhouse current for ``inventory`` (a file or directory)."""
    pki_dir, report = ensure_inventory_pki(inventory)
    return PreparedCluster(pki_dir, report, build_wheelhouse(repo_root))
