"""The main job: from bare hosts to a verified cluster.

Joins the engine (kprov.provision), the PKI (kprov.pki), the bundle (kprov.bundle) and the
lab (kprov.lab) into the pipelines a user runs: ``up`` (lab → apply → verify), the
operator-side preparation ``kprov apply`` does before the cluster playbook, ``verify``,
``reset`` and the admin kubeconfig.

The package itself imports nothing: callers import the submodule they need
(kprov.deploy.playbooks is light and asked by every ``kprov apply``; kprov.deploy.prepare
pulls in the PKI and cryptography).
"""
