"""The Kubernetes-architecture components, in Python. Never imports kprov.provision or kprov.cli."""
