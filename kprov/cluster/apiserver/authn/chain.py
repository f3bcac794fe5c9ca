"""Authentication: x509 client certificates, then ServiceAccount Bearer tokens.

- A client certificate verified by TLS against the client CA (``--client-ca-file``): CN is
  the user, O entries are the groups; parsed once per TLS connection.
- Otherwise ``Authorization: Bearer <jwt>``: a ServiceAccount token
  (:mod:`kprov.cluster.apiserver.satoken`) whose signature, issuer, audience and expiry
  hold, whose ServiceAccount still exists with the token's uid and, for a bound token,
  whose Pod or Secret (and Node) still exist with their
  uids (a pod deleted more than a minute ago revokes its tokens, as upstream). The user is
  ``system:serviceaccount:<ns>:<name>`` in ``system:serviceaccounts``,
  ``system:serviceaccounts:<ns>`` and ``system:authenticated``, with upstream's extra keys
  (pod name/uid, node name/uid, credential id).
- No credentials: anonymous (only the public health and version endpoints accept that).
  A token that is present but invalid is a 401 on every path, as kube-apiserver answers.

The signature check (an RSA verify, the costly step) is cached per token for ``ttl_s`` (and never
past its expiry) in a bounded LRU; the object checks run on every request, since they are two
or three dict lookups in the watch cache, so a deleted pod's token stops working at once.
"""

from __future__ import annotations

import base64
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from kprov.cluster.api.objects import parse_time
from kprov.cluster.apiserver.identity import ANONYMOUS, UserInfo
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.satoken import ServiceAccountTokens, TokenClaims, TokenInvalid
from kprov.cluster.storage import object_key

__all__ = ["Authenticator", "TokenInvalid", "bearer_token"]

_POD_DELETION_GRACE_S = 60.0


def bearer_token(request: ApiRequest) -> str:
    """The token of an ``Authorization: Bearer`` header ("" when there is none)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return token.strip()


class Authenticator:
    """Who sent a request: certificate, then Bearer token, else anonymous."""

    def __init__(
        self,
        tokens: ServiceAccountTokens | None = None,
        lookup: Callable[[str], dict[str, Any] | None] | None = None,
        local_user: UserInfo | None = None,
        ttl_s: float = 10.0,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tokens = tokens
        self._lookup = lookup
        self._local = local_user
        self._known: weakref.WeakKeyDictionary[Any, UserInfo] = weakref.WeakKeyDictionary()
        self._verified: OrderedDict[str, _Verified] = OrderedDict()
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock

    def authenticate(self, request: ApiRequest) -> UserInfo:
        """The user; TokenInvalid for a Bearer token that is not (or no longer) valid."""
        user = self._certificate_user(request)
        if user.authenticated:
            return user
        token = bearer_token(request)
        if not token:
            return user
        return self.review(token)

    def review(self, token: str, audiences: tuple[str, ...] = ()) -> UserInfo:
        """The user a token stands for (TokenReview and Bearer requests)."""
        if self.tokens is None:
            raise TokenInvalid("no service-account keys configured")
        entry = self._entry(token, audiences)
        self._check_objects(entry, token)
        return entry.user

    def _certificate_user(self, request: ApiRequest) -> UserInfo:
        ssl_object = request.tls
        if ssl_object is None:
            return self._local or ANONYMOUS
        user = self._known.get(ssl_object)
        if user is None:
            user = self._known[ssl_object] = _from_certificate(ssl_object)
        return user

    def _entry(self, token: str, audiences: tuple[str, ...]) -> _Verified:
        assert self.tokens is not None
        now = self._clock()
        if not audiences:
            hit = self._verified.get(token)
            if hit is not None and hit.deadline > now:
                self._verified.move_to_end(token)
                return hit
        claims = self.tokens.verify(token, audiences or None)
        if claims.expires <= now:
            raise TokenInvalid("service account token has expired")
        entry = _Verified(min(now + self._ttl, claims.expires), claims)
        if not audiences:
            self._verified[token] = entry
            if len(self._verified) > self._max:
                self._verified.popitem(last=False)
        return entry

    def _check_objects(self, entry: _Verified, token: str) -> None:
        """The ServiceAccount, bound object and node still exist with the token's uids."""
        lookup = self._lookup
        if lookup is None:
            return
        for key, uid, what, bound in entry.checks:
            obj = lookup(key)
            if obj is None:
                raise TokenInvalid(f"{what} has been deleted")
            meta = obj.get("metadata") or {}
            if uid and meta.get("uid", "") != uid:
                raise TokenInvalid(f"{what}: UID ({meta.get('uid', '')}) does not match claim ({uid})")
            if bound:
                deleted = meta.get("deletionTimestamp")
                if deleted and _rfc3339(deleted) < self._clock() - _POD_DELETION_GRACE_S:
                    raise TokenInvalid(f"{what} is being deleted")
        if entry.claims.legacy_secret:
            self._check_legacy_secret(entry.claims, token)

    def _check_legacy_secret(self, claims: TokenClaims, token: str) -> None:
        assert self._lookup is not None
        secret = self._lookup(object_key("", "secrets", claims.namespace, claims.legacy_secret))
        if secret is None:
            raise TokenInvalid(f"secret {claims.namespace}/{claims.legacy_secret} has been deleted")
        stored = (secret.get("data") or {}).get("token", "")
        try:
            matches = base64.b64decode(stored).decode() == token
        except ValueError:
            matches = False
        if not matches:
            raise TokenInvalid("token does not match the secret's token")


class _Verified:
    """A token whose signature checked out: until when to trust that, its claims, its user,
    and the objects to look up on every request ((key, uid, description, bound))."""

    __slots__ = ("checks", "claims", "deadline", "user")

    def __init__(self, deadline: float, claims: TokenClaims) -> None:
        self.deadline = deadline
        self.claims = claims
        self.user = _user_of(claims)
        ns = claims.namespace
        checks = [
            (
                object_key("", "serviceaccounts", ns, claims.name),
                claims.uid,
                f"service account {ns}/{claims.name}",
                False,
            )
        ]
        bound = claims.bound
        if bound is not None:
            resource = "pods" if bound.kind == "Pod" else "secrets"
            checks.append(
                (
                    object_key("", resource, ns, bound.name),
                    bound.uid,
                    f"{bound.kind.lower()} {ns}/{bound.name}",
                    True,
                )
            )
        if claims.node is not None:
            checks.append(
                (
                    object_key("", "nodes", "", claims.node.name),
                    claims.node.uid,
                    f"node {claims.node.name}",
                    False,
                )
            )
        self.checks = tuple(checks)


def _rfc3339(value: str) -> float:
    parsed = parse_time(value)
    return parsed.timestamp() if parsed is not None else 0.0


def _user_of(claims: TokenClaims) -> UserInfo:
    extra: list[tuple[str, tuple[str, ...]]] = []
    if claims.jti:
        extra.append(("authentication.kubernetes.io/credential-id", (f"JTI={claims.jti}",)))
    if claims.node is not None:
        extra.append(("authentication.kubernetes.io/node-name", (claims.node.name,)))
        extra.append(("authentication.kubernetes.io/node-uid", (claims.node.uid,)))
    if claims.bound is not None and claims.bound.kind == "Pod":
        extra.append(("authentication.kubernetes.io/pod-name", (claims.bound.name,)))
        extra.append(("authentication.kubernetes.io/pod-uid", (claims.bound.uid,)))
    return UserInfo(
        claims.username,
        ("system:serviceaccounts", f"system:serviceaccounts:{claims.namespace}", "system:authenticated"),
        claims.uid,
        tuple(sorted(extra)),
    )


def _from_certificate(ssl_object: Any) -> UserInfo:
    cert = ssl_object.getpeercert()
    if not cert:
        return ANONYMOUS
    name = ""
    groups: list[str] = []
    for rdn in cert.get("subject", ()):
        for attr, value in rdn:
            if attr == "commonName":
                name = value
            elif attr == "organizationName":
                groups.append(value)
    if not name:
        return ANONYMOUS
    return UserInfo(name, (*groups, "system:authenticated"))
