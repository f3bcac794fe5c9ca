"""The main job: from bare hosts to a verified cluster.

Joins the engine (kprov.provision), the PKI (kprov.pki), the bundle (kprov.bundle) and the
lab (kprov.lab) into the pipelines a user runs: ``up`` (lab → apply → verify), the
operator-side preparation ``kprov apply`` does before the cluster playbook, ``verify``,
``reset`` and the admin kubeconfig.

The names below are imported on first use (PEP 562), so that importing a light submodule
(kprov.deploy.playbooks, which every ``kprov apply`` asks) does not import the PKI and
cryptography behind kprov.deploy.prepare.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kprov.deploy.playbooks import is_cluster_playbook, needs_prepared_artifacts
    from kprov.deploy.prepare import PreparedCluster, prepare_cluster

__all__ = ["PreparedCluster", "is_cluster_playbook", "needs_prepared_artifacts", "prepare_cluster"]

_HOMES = {
    "PreparedCluster": "kprov.deploy.prepare",
    "prepare_cluster": "kprov.deploy.prepare",
    "is_cluster_playbook": "kprov.deploy.playbooks",
    "needs_prepared_artifacts": "kprov.deploy.playbooks",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'kprov.deploy' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
