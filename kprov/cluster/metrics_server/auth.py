"""Who is calling, and may they: request-header authentication and delegated authorization,
as an extension API server (metrics-server) does them.

Design: the TLS listener asks for a client certificate and trusts only the front-proxy CA
(``requestheader-client-ca-file`` of kube-system/extension-apiserver-authentication), so a
verified certificate is the aggregator's; its common name must be one of
``requestheader-allowed-names`` (any, when that list is empty). The user is then read from
the published username/group/extra headers. Each request is authorized by a
SubjectAccessReview to the API server; decisions are kept ``ttl_s`` (metrics-server's
delegating authorizer caches them too).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from kprov.cluster.client.rest import ApiClient

__all__ = ["Authorizer", "Caller", "RequestHeaderConfig", "caller_from"]

_SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@dataclass(frozen=True)
class RequestHeaderConfig:
    client_ca: str  # PEM
    allowed_names: tuple[str, ...] = ()
    username_headers: tuple[str, ...] = ("X-Remote-User",)
    group_headers: tuple[str, ...] = ("X-Remote-Group",)
    extra_prefixes: tuple[str, ...] = ("X-Remote-Extra-",)

    @classmethod
    def from_configmap(cls, data: Mapping[str, str]) -> RequestHeaderConfig:
        def listed(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(json.loads(data[key])) if data.get(key) else default

        return cls(
            data.get("requestheader-client-ca-file", ""),
            listed("requestheader-allowed-names", ()),
            listed("requestheader-username-headers", ("X-Remote-User",)),
            listed("requestheader-group-headers", ("X-Remote-Group",)),
            listed("requestheader-extra-headers-prefix", ("X-Remote-Extra-",)),
        )


@dataclass(frozen=True)
class Caller:
    name: str
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)


def _common_name(peercert: Mapping[str, Any] | None) -> str | None:
    for rdn in (peercert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def caller_from(
    config: RequestHeaderConfig, peercert: Mapping[str, Any] | None, headers: Any
) -> Caller | None:
    """The caller named by the request headers when the verified client certificate is an
    allowed front proxy; None otherwise (401)."""
    name = _common_name(peercert)
    if name is None or (config.allowed_names and name not in config.allowed_names):
        return None
    user = next((headers.get(h) for h in config.username_headers if headers.get(h)), None)
    if not user:
        return None
    groups = tuple(g for h in config.group_headers for g in headers.getall(h, []))
    extra: dict[str, list[str]] = {}
    for key, value in headers.items():
        for prefix in config.extra_prefixes:
            if key.lower().startswith(prefix.lower()):
                extra.setdefault(unquote(key[len(prefix):]).lower(), []).append(value)
    return Caller(user, groups, extra)


class Authorizer:
    def __init__(self, client: ApiClient, ttl_s: float = 10.0) -> None:
        self._client = client
        self._ttl = ttl_s
        self._decisions: dict[tuple[Any, ...], tuple[float, bool]] = {}

    async def allows(self, caller: Caller, verb: str, resource: str, namespace: str, name: str) -> bool:
        extra = json.dumps(caller.extra, sort_keys=True)
        key = (caller.name, caller.groups, extra, verb, resource, namespace, name)
        now = time.monotonic()
        known = self._decisions.get(key)
        if known is not None and known[0] > now:
            return known[1]
        attributes = {"verb": verb, "group": "metrics.k8s.io", "version": "v1beta1", "resource": resource,
                      "namespace": namespace, "name": name}
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": caller.name, "groups": list(caller.groups), "extra": caller.extra,
                           "resourceAttributes": attributes}}
        answer = await self._client.request("POST", _SAR_PATH, body=review)
        allowed = bool(((answer or {}).get("status") or {}).get("allowed"))
        if len(self._decisions) > 4096:
            self._decisions.clear()
        self._decisions[key] = (now + self._ttl, allowed)
        return allowed
