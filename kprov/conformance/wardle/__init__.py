"""A stand-in for the suite's ``sample-apiserver`` image: the wardle.example.com API group
served by a small stdlib-only Python program, so the Aggregator conformance test exercises
kprov's API aggregation without upstream's Go sample-apiserver (which cannot be had offline).

It is *not* upstream's program: it serves what the test drives and what an aggregated
server must do to be trusted behind kube-apiserver, no more.

- :mod:`.store`: flunders and fischers kept in the etcd sidecar through etcd's v3 JSON
  gateway (``--etcd-servers``), or in memory without one; resourceVersion = etcd revision;
- :mod:`.auth`: request-header authentication (the front-proxy client certificate, checked
  against ``requestheader-client-ca-file`` of kube-system/extension-apiserver-authentication,
  and the ``X-Remote-*`` headers) and delegated authorization (a SubjectAccessReview per
  request, cached briefly), both through the API server as the pod's ServiceAccount;
- :mod:`.api`: discovery documents and the REST semantics of the two resources (pure:
  request in, status and JSON out);
- :mod:`.server`: the HTTPS listener (``--tls-cert-file``/``--tls-private-key-file``, port
  443), /healthz, /livez and /readyz (etcd answering) without authentication, and ``main``.

Everything here imports only the standard library and its own modules (relative imports):
the image copies this package and the stdlib modules it needs beside this machine's
python3 (:mod:`kprov.conformance.python_root`).
"""
