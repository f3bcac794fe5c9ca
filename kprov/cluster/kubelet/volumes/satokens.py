"""A pod's ServiceAccount tokens, as the kubelet's token manager gets them.

Each ``serviceAccountToken`` projection of the pod's volumes is one TokenRequest for the
pod's ServiceAccount, bound to the pod (so deleting the pod revokes it), with the
projection's audience (default: the API server's) and expirationSeconds (default 3600).
A token is reused until it is older than 80% of its lifetime or 24 hours, then requested
again; :meth:`PodTokens.next_refresh_in` tells the pod worker when to wake for that.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

__all__ = ["PodTokens"]

Obj = Mapping[str, Any]
Requester = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
_REFRESH_FRACTION = 0.8
_MAX_AGE_S = 24 * 3600.0


class PodTokens:
    def __init__(self, request: Requester, clock: Callable[[], float] = time.time) -> None:
        self._request = request
        self._clock = clock
        # (volume, path, audience, expirationSeconds) -> (token, issued, expires)
        self._tokens: dict[tuple[str, str, str, int], tuple[bytes, float, float]] = {}

    def _due(self, issued: float, expires: float) -> float:
        return issued + min((expires - issued) * _REFRESH_FRACTION, _MAX_AGE_S)

    async def fetch(self, pod: Obj, projections: list[tuple[str, Obj]]) -> dict[tuple[str, str], bytes]:
        """Every token the projections want, requesting the missing and stale ones."""
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        account = spec.get("serviceAccountName") or "default"
        out: dict[tuple[str, str], bytes] = {}
        wanted = set()
        for volume, projection in projections:
            path = str(projection.get("path", ""))
            audience = str(projection.get("audience", ""))
            expiration = int(projection.get("expirationSeconds", 3600))
            key = (volume, path, audience, expiration)
            wanted.add(key)
            cached = self._tokens.get(key)
            now = self._clock()
            if cached is None or now >= self._due(cached[1], cached[2]):
                body: dict[str, Any] = {
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest",
                    "spec": {
                        "expirationSeconds": expiration,
                        "boundObjectRef": {
                            "apiVersion": "v1",
                            "kind": "Pod",
                            "name": meta.get("name", ""),
                            "uid": meta.get("uid", ""),
                        },
                    },
                }
                if audience:
                    body["spec"]["audiences"] = [audience]
                reply = await self._request(meta.get("namespace", ""), account, body)
                status = reply.get("status") or {}
                expires = _parse(status.get("expirationTimestamp")) or now + expiration
                cached = (str(status.get("token", "")).encode(), now, expires)
                self._tokens[key] = cached
            out[(volume, path)] = cached[0]
        for stale in set(self._tokens) - wanted:
            del self._tokens[stale]
        return out

    def next_refresh_in(self) -> float | None:
        if not self._tokens:
            return None
        now = self._clock()
        return max(0.0, min(self._due(i, e) for _, i, e in self._tokens.values()) - now)


def _parse(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
