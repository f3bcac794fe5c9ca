"""ServiceAccount tokens: JWTs signed with the cluster's service-account key (``sa.key``).

Issuing (TokenRequest) and verifying (Bearer authentication, TokenReview) share one
:class:`ServiceAccountTokens`. The claims are upstream's for bound tokens: ``iss``, ``sub``
(``system:serviceaccount:<ns>:<name>``), ``aud``, ``exp``/``iat``/``nbf``, ``jti`` and the
private ``kubernetes.io`` claim naming the namespace, the ServiceAccount (name, uid) and the
object the token is bound to (a Pod or a Secret, name and uid; for a Pod also its node).
Verification checks the RS256 signature, the issuer, the audience and the time window with
PyJWT; whether the named objects still exist is the authenticator's business (it has the
watch cache). Legacy tokens (issuer ``kubernetes/serviceaccount``, claims under
``kubernetes.io/serviceaccount/...``) verify too, so Secrets of type
``kubernetes.io/service-account-token`` can be honoured. Tokens name their key in the
``kid`` header as upstream does (the unpadded base64url SHA-256 of the public key's DER
SubjectPublicKeyInfo), the ``kid`` the OIDC discovery's JWKS
(:mod:`kprov.cluster.apiserver.authn.oidc`) lists.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "DEFAULT_ISSUER",
    "LEGACY_ISSUER",
    "BoundRef",
    "ServiceAccountTokens",
    "TokenClaims",
    "TokenInvalid",
    "key_id",
    "sa_username",
]

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_ISSUER = "kubernetes/serviceaccount"
_LEGACY = "kubernetes.io/serviceaccount/"


class TokenInvalid(Exception):
    """The token is not one of ours, or no longer valid (the message says why)."""


def sa_username(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


@dataclass(frozen=True)
class BoundRef:
    kind: str  # Pod | Secret | Node
    name: str
    uid: str


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says: whose it is, until when, and what it is bound to."""

    namespace: str
    name: str
    uid: str
    expires: float
    audiences: tuple[str, ...]
    jti: str = ""
    bound: BoundRef | None = None
    node: BoundRef | None = None
    legacy_secret: str = ""  # the Secret of a legacy token

    @property
    def username(self) -> str:
        return sa_username(self.namespace, self.name)


def _load_public(path: str) -> Any:
    data = Path(path).read_bytes()
    if b"PRIVATE KEY" in data:
        return serialization.load_pem_private_key(data, None).public_key()
    return serialization.load_pem_public_key(data)


def key_id(public_key: Any) -> str:
    """upstream's key ID: base64url (no padding) of SHA-256 over the DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


class ServiceAccountTokens:
    """Signs tokens with one private key; verifies them against any of the public keys."""

    def __init__(
        self,
        signing_key: Any | None,
        public_keys: list[Any],
        issuer: str = DEFAULT_ISSUER,
        audiences: tuple[str, ...] = (),
        extra_issuers: tuple[str, ...] = (),
    ) -> None:
        self._signing_key = signing_key
        self._public_keys = list(public_keys)
        if signing_key is not None and not self._public_keys:
            self._public_keys.append(signing_key.public_key())
        self.issuer = issuer
        self.audiences = audiences or (issuer,)
        self._issuers = (issuer, *extra_issuers)
        self._kid = key_id(signing_key.public_key()) if signing_key is not None else ""

    @property
    def public_keys(self) -> list[Any]:
        """The keys tokens are verified with (what the JWKS publishes)."""
        return list(self._public_keys)

    @classmethod
    def from_files(
        cls,
        signing_key_file: str,
        key_files: list[str],
        issuer: str = DEFAULT_ISSUER,
        audiences: tuple[str, ...] = (),
    ) -> ServiceAccountTokens:
        signing = None
        if signing_key_file:
            signing = serialization.load_pem_private_key(Path(signing_key_file).read_bytes(), None)
            if not isinstance(signing, rsa.RSAPrivateKey):
                raise ValueError(f"{signing_key_file}: an RSA private key is expected")
        return cls(signing, [_load_public(p) for p in key_files], issuer, audiences)

    @property
    def can_issue(self) -> bool:
        return self._signing_key is not None

    def issue(
        self,
        namespace: str,
        name: str,
        uid: str,
        audiences: list[str] | None = None,
        expiration_s: int = 3600,
        bound: BoundRef | None = None,
        node: BoundRef | None = None,
        now: float | None = None,
    ) -> tuple[str, int]:
        """A signed token and its expiry (Unix seconds)."""
        if self._signing_key is None:
            raise TokenInvalid("no service-account signing key configured")
        issued = int(now if now is not None else time.time())
        expires = issued + int(expiration_s)
        private: dict[str, Any] = {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": uid},
        }
        if bound is not None:
            private[bound.kind.lower()] = {"name": bound.name, "uid": bound.uid}
        if node is not None:
            private["node"] = {"name": node.name, "uid": node.uid}
        claims = {
            "aud": list(audiences or self.audiences),
            "exp": expires,
            "iat": issued,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": private,
            "nbf": issued,
            "sub": sa_username(namespace, name),
        }
        token = jwt.encode(claims, self._signing_key, algorithm="RS256", headers={"kid": self._kid})
        return token, expires

    def verify(self, token: str, audiences: tuple[str, ...] | None = None) -> TokenClaims:
        """The claims of a valid token (signature, issuer, audience, time); TokenInvalid else."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenInvalid("not a JWT") from exc
        if header.get("alg") != "RS256":
            raise TokenInvalid("unexpected signing algorithm")
        payload: dict[str, Any] | None = None
        for key in self._public_keys:
            try:
                payload = jwt.decode(
                    token,
                    key,
                    algorithms=["RS256"],
                    options={"verify_aud": False, "verify_iss": False, "require": ["iss", "sub"]},
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.ExpiredSignatureError as exc:
                raise TokenInvalid("service account token has expired") from exc
            except jwt.PyJWTError as exc:
                raise TokenInvalid(str(exc)) from exc
        if payload is None:
            raise TokenInvalid("invalid bearer token")
        issuer = payload.get("iss")
        if issuer == LEGACY_ISSUER:
            return _legacy_claims(payload)
        if issuer not in self._issuers:
            raise TokenInvalid("token issuer is not accepted")
        aud = payload.get("aud")
        token_audiences = tuple([aud] if isinstance(aud, str) else aud or ())
        wanted = audiences if audiences else self.audiences
        if not set(token_audiences) & set(wanted):
            raise TokenInvalid("token audiences is invalid")
        if "exp" not in payload:
            raise TokenInvalid("service account token has no expiry")
        return _bound_claims(payload, token_audiences)


def _ref(private: dict[str, Any], key: str, kind: str) -> BoundRef | None:
    value = private.get(key)
    if not isinstance(value, dict):
        return None
    return BoundRef(kind, str(value.get("name", "")), str(value.get("uid", "")))


def _bound_claims(payload: dict[str, Any], audiences: tuple[str, ...]) -> TokenClaims:
    private = payload.get("kubernetes.io")
    if not isinstance(private, dict):
        raise TokenInvalid("token lacks the kubernetes.io claim")
    sa = private.get("serviceaccount") or {}
    namespace = str(private.get("namespace", ""))
    name = str(sa.get("name", ""))
    if not namespace or not name or payload.get("sub") != sa_username(namespace, name):
        raise TokenInvalid("sub does not match the kubernetes.io claim")
    bound = _ref(private, "pod", "Pod") or _ref(private, "secret", "Secret")
    return TokenClaims(
        namespace,
        name,
        str(sa.get("uid", "")),
        float(payload["exp"]),
        audiences,
        str(payload.get("jti", "")),
        bound,
        _ref(private, "node", "Node"),
    )


def _legacy_claims(payload: dict[str, Any]) -> TokenClaims:
    namespace = str(payload.get(_LEGACY + "namespace", ""))
    name = str(payload.get(_LEGACY + "service-account.name", ""))
    secret = str(payload.get(_LEGACY + "secret.name", ""))
    if not namespace or not name or not secret or payload.get("sub") != sa_username(namespace, name):
        raise TokenInvalid("invalid legacy service account token")
    return TokenClaims(
        namespace,
        name,
        str(payload.get(_LEGACY + "service-account.uid", "")),
        float(payload.get("exp", 0)) or float("inf"),
        (),
        legacy_secret=secret,
    )
