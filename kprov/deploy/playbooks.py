"""Which playbooks are kprov's own: the cluster playbook and the node prerequisites.

Kept apart from kprov.deploy.prepare (the PKI, the runtime bundle, cryptography) so that
every ``kprov apply`` can ask without importing them: a plain playbook's run needs only
this answer (those imports were a visible part of each run's start, ``python -X importtime``).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["NODE_PREREQS_PLAYBOOK", "REPO_ROOT", "SITE_PLAYBOOK", "is_cluster_playbook",
           "needs_prepared_artifacts"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SITE_PLAYBOOK = REPO_ROOT / "roles" / "site.yml"
# Machines made ready to join as nodes (common, kprov's runtime, containerd with the node
# images): the runtime and the images come from the same operator-side phases.
NODE_PREREQS_PLAYBOOK = REPO_ROOT / "roles" / "node-prereqs.yml"


def is_cluster_playbook(playbook: Path) -> bool:
    """True for kprov's own cluster playbook (the one that needs PKI and kprov's runtime)."""
    return playbook.resolve() == SITE_PLAYBOOK.resolve()


def needs_prepared_artifacts(playbook: Path) -> bool:
    """True for kprov's playbooks whose roles install the runtime and node images kprov builds."""
    return playbook.resolve() in (SITE_PLAYBOOK.resolve(), NODE_PREREQS_PLAYBOOK.resolve())
