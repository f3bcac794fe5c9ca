"""The main job: from bare hosts to a verified cluster.

Joins the engine (kprov.provision), the PKI (kprov.pki), the bundle (kprov.bundle) and the
lab (kprov.lab) into the pipelines a user runs: ``up`` (lab → apply → verify), the
operator-side preparation ``kprov apply`` does before the cluster playbook, ``verify``,
``reset`` and the admin kubeconfig.
"""

from kprov.deploy.prepare import (
    PreparedCluster,
    is_cluster_playbook,
    needs_prepared_artifacts,
    prepare_cluster,
)

__all__ = ["PreparedCluster", "is_cluster_playbook", "needs_prepared_artifacts", "prepare_cluster"]
