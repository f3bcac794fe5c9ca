"""Who calls, and may they: what an aggregated API server does before serving a request.

Design: the API server that proxies a request here presents its front-proxy client
certificate and names the caller in request headers. :class:`RequestHeaders` holds what
kube-system/extension-apiserver-authentication publishes about that (the CA, the allowed
certificate names, the header names); the TLS listener trusts only that CA, so a verified
peer certificate is the proxy's, and :meth:`RequestHeaders.caller` reads the user, groups
and extras from the headers when the certificate's common name is allowed (any name when
the list is empty). :class:`Authorizer` asks the API server with a SubjectAccessReview
(the pod's ServiceAccount must be bound to ``system:auth-delegator``, as the test binds it)
and keeps each answer ``ttl_s``. :class:`InCluster` is the API client both use: the
ServiceAccount token and CA the kubelet mounts, the address from KUBERNETES_SERVICE_HOST/PORT.
RequestHeaders and Caller have the shape of kprov.cluster.metrics_server.auth's: this
package is copied alone into an image beside a bare python3, so it cannot import kprov.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

__all__ = ["Authorizer", "Caller", "InCluster", "RequestHeaders"]

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
CONFIGMAP_PATH = "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication"
_SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


class InCluster:
    """A minimal client of the API server this pod runs under."""

    def __init__(self, host: str, port: int, sa_dir: Path = SA_DIR, timeout_s: float = 10.0) -> None:
        self._host, self._port, self._dir, self._timeout = host, port, sa_dir, timeout_s
        self._context = ssl.create_default_context(cafile=str(sa_dir / "ca.crt"))

    @classmethod
    def from_environment(cls, sa_dir: Path = SA_DIR) -> InCluster:
        host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
        if not host:
            raise RuntimeError("KUBERNETES_SERVICE_HOST is not set: not running in a pod")
        return cls(host, int(os.environ.get("KUBERNETES_SERVICE_PORT", "443")), sa_dir)

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        token = (self._dir / "token").read_text().strip()  # re-read: the kubelet rotates it
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout,
                                                 context=self._context)
        try:
            connection.request(method, path, body=data, headers=headers)
            reply = connection.getresponse()
            payload = reply.read()
        finally:
            connection.close()
        if reply.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {reply.status}: {payload[:300]!r}")
        answer: dict[str, Any] = json.loads(payload)
        return answer


@dataclass(frozen=True)
class Caller:
    name: str
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestHeaders:
    client_ca: str  # PEM; empty: no proxy can be verified, every request is unauthenticated
    allowed_names: tuple[str, ...] = ()
    username_headers: tuple[str, ...] = ("X-Remote-User",)
    group_headers: tuple[str, ...] = ("X-Remote-Group",)
    extra_prefixes: tuple[str, ...] = ("X-Remote-Extra-",)

    @classmethod
    def from_configmap(cls, data: Mapping[str, str]) -> RequestHeaders:
        def listed(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(json.loads(data[key])) if data.get(key) else default

        return cls(
            data.get("requestheader-client-ca-file", ""),
            listed("requestheader-allowed-names", ()),
            listed("requestheader-username-headers", ("X-Remote-User",)),
            listed("requestheader-group-headers", ("X-Remote-Group",)),
            listed("requestheader-extra-headers-prefix", ("X-Remote-Extra-",)),
        )

    @classmethod
    def fetch(cls, client: InCluster) -> RequestHeaders:
        return cls.from_configmap(client.request("GET", CONFIGMAP_PATH).get("data") or {})

    def caller(self, peercert: Mapping[str, Any] | None, headers: Any) -> Caller | None:
        """The caller the headers name, when ``peercert`` (verified against :attr:`client_ca`
        by the TLS layer) is an allowed proxy; None: unauthenticated."""
        if not peercert:
            return None
        names = [str(v) for rdn in peercert.get("subject", ()) for k, v in rdn if k == "commonName"]
        if not names or (self.allowed_names and names[0] not in self.allowed_names):
            return None
        user = next((headers.get(h) for h in self.username_headers if headers.get(h)), None)
        if not user:
            return None
        groups = tuple(g for h in self.group_headers for g in headers.get_all(h) or [])
        extra: dict[str, list[str]] = {}
        for key, value in headers.items():
            for prefix in self.extra_prefixes:
                if key.lower().startswith(prefix.lower()):
                    extra.setdefault(unquote(key[len(prefix):]).lower(), []).append(value)
        return Caller(user, groups, extra)


class Authorizer:
    """SubjectAccessReviews, answers cached ``ttl_s`` per caller and attributes."""

    def __init__(self, client: InCluster, ttl_s: float = 10.0) -> None:
        self._client = client
        self._ttl = ttl_s
        self._lock = threading.Lock()
        self._decisions: dict[str, tuple[float, bool, str]] = {}

    def allows(self, caller: Caller, attributes: Mapping[str, str], non_resource: bool) -> tuple[bool, str]:
        spec: dict[str, Any] = {"user": caller.name, "groups": list(caller.groups), "extra": caller.extra}
        spec["nonResourceAttributes" if non_resource else "resourceAttributes"] = dict(attributes)
        key = json.dumps(spec, sort_keys=True)
        now = time.monotonic()
        with self._lock:
            known = self._decisions.get(key)
        if known is not None and known[0] > now:
            return known[1], known[2]
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        status = self._client.request("POST", _SAR_PATH, review).get("status") or {}
        allowed, reason = bool(status.get("allowed")), str(status.get("reason") or "")
        with self._lock:
            if len(self._decisions) > 4096:
                self._decisions.clear()
            self._decisions[key] = (now + self._ttl, allowed, reason)
        return allowed, reason
