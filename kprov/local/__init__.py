"""kprov.local: a single-machine control plane on loopback (etcd + API server + components)."""

from kprov.local.control_plane import COMPONENTS, DEFAULT_DIR, Component, LocalControlPlane, LocalInfo

__all__ = ["COMPONENTS", "DEFAULT_DIR", "Component", "LocalControlPlane", "LocalInfo"]
