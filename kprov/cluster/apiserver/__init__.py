"""kprov.cluster.apiserver: the Kubernetes API over etcd (HTTPS, client-certificate auth).

Entry point ``kprov-apiserver`` (:mod:`.__main__`); :func:`start_server` runs one in-process.
Modules: app (middleware + routing), requestinfo, negotiation, status, discovery, health,
crud, listing, lifecycle, admission, allocators, watch, subresources, proxy, authn, authz,
bootstrap, tls, server.
"""

from kprov.cluster.apiserver.config import ServerConfig
from kprov.cluster.apiserver.server import run_server, start_server

__all__ = ["ServerConfig", "run_server", "start_server"]
