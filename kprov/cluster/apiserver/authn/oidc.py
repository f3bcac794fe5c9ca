"""ServiceAccount issuer discovery (upstream's ServiceAccountIssuerDiscovery): OpenID Connect
metadata at ``/.well-known/openid-configuration`` and the token-verifying keys at
``/openid/v1/jwks``, so anyone holding a ServiceAccount token (another cluster, a cloud IAM,
a pod) can verify it without asking the API server.

- The configuration names the issuer (``--service-account-issuer``), ``jwks_uri`` at this
  server's advertised address (upstream's default when ``--service-account-jwks-uri`` is not
  given), ``response_types_supported: [id_token]``, ``subject_types_supported: [public]`` and
  the signing algorithms of the keys (RS256); Content-Type application/json.
- The JWKS lists every public key tokens verify with: RSA ``n``/``e`` (unpadded base64url),
  ``use: sig``, ``alg: RS256`` and the ``kid`` issued tokens carry
  (:func:`kprov.cluster.apiserver.satoken.key_id`); Content-Type application/jwk-set+json.
- Both are ``Cache-Control: public, max-age=3600`` and authorized like any non-resource URL:
  the bootstrap ClusterRole ``system:service-account-issuer-discovery`` grants ``get`` on them.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web

from kprov.cluster.api.errors import ApiError
from kprov.cluster.apiserver.authz.chain import Authorizer
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.status import method_not_supported
from kprov.cluster.apiserver.satoken import ServiceAccountTokens, key_id

__all__ = ["CONFIGURATION_PATH", "JWKS_PATH", "jwks", "openid_configuration", "serve_oidc"]

CONFIGURATION_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
_CACHE = "public, max-age=3600"


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwks(tokens: ServiceAccountTokens) -> dict[str, Any]:
    keys = []
    for key in tokens.public_keys:
        numbers = key.public_numbers()
        keys.append({"use": "sig", "kty": "RSA", "kid": key_id(key), "alg": "RS256",
                     "n": _b64(numbers.n), "e": _b64(numbers.e)})
    return {"keys": keys}


def openid_configuration(issuer: str, jwks_uri: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }


def _host(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def serve_oidc(request: ApiRequest, ctx: ApiContext, authorizer: Authorizer) -> Any:
    """The discovery document or the key set; None for any other path (or no token keys)."""
    path = request.path.rstrip("/") or "/"
    tokens = ctx.sa_tokens
    if path not in (CONFIGURATION_PATH, JWKS_PATH) or tokens is None:
        return None
    user = request.requester
    verb = "get" if request.method in ("GET", "HEAD") else request.method.lower()
    if not (authorizer.is_superuser(user) or authorizer.rbac.allows_url(user, verb, request.path)):
        raise ApiError(f'forbidden: User "{user.name}" cannot {verb} path "{request.path}"', 403, "Forbidden")
    if verb != "get":
        raise method_not_supported(request.method, request.path)
    if path == JWKS_PATH:
        body, content_type = jwks(tokens), "application/jwk-set+json"
    else:
        uri = f"https://{_host(ctx.config.advertise_address, ctx.config.secure_port)}{JWKS_PATH}"
        body, content_type = openid_configuration(tokens.issuer, uri), "application/json"
    encoded = json.dumps(body, separators=(",", ":")).encode()  # compact, as Go's encoder writes
    return web.Response(body=encoded, headers={"Content-Type": content_type, "Cache-Control": _CACHE})
