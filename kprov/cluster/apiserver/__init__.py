"""kprov.cluster.apiserver: the Kubernetes API over etcd (HTTPS, client-certificate auth).

Entry point ``kprov-apiserver`` (:mod:`.__main__`); :func:`start_server` runs one in-process.
Wings, roof to ground: front (HTTP serving, the app and its handler table), authn,
admission (the plugin chain), authz, flowcontrol, reconcilers, handlers (REST verbs, the
write path, subresources, watch, proxies), aggregation, request (the request vocabulary);
on the ground: context, attributes, identity, config (flags by concern), allocators;
server wires them. The floors are the table in tests/unit/test_layers.py.
"""

from kprov.cluster.apiserver.config import ServerConfig
from kprov.cluster.apiserver.server import run_server, start_server

__all__ = ["ServerConfig", "run_server", "start_server"]
