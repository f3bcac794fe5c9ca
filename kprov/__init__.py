"""kprov: an Ansible-style provisioner and the Kubernetes-architecture cluster it installs.

Two halves that never import each other: ``kprov.provision`` (the engine: inventory,
roles, SSH, modules) and ``kprov.cluster`` (API server, scheduler, controllers, kubelet,
proxy). ``kprov.cli`` is the only place that joins them.
"""

__version__ = "0.1.0"
