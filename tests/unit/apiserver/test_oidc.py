"""ServiceAccount issuer discovery: the OpenID configuration and a JWKS that verifies the
tokens TokenRequest issues (matched by kid), behind RBAC's non-resource URL rule."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kprov.cluster.api.errors import ApiError
from kprov.cluster.apiserver.authn.oidc import serve_oidc
from kprov.cluster.apiserver.satoken import ServiceAccountTokens

TOKENS = ServiceAccountTokens(rsa.generate_private_key(public_exponent=65537, key_size=2048), [])
CTX: Any = SimpleNamespace(sa_tokens=TOKENS,
                           config=SimpleNamespace(advertise_address="10.0.0.1", secure_port=6443))


def _authorizer(superuser: bool = True, granted: tuple[str, ...] = ()) -> Any:
    return SimpleNamespace(is_superuser=lambda user: superuser,
                           rbac=SimpleNamespace(allows_url=lambda user, verb, path: path in granted))


def _get(path: str, authorizer: Any = None, method: str = "GET") -> Any:
    request = SimpleNamespace(path=path, method=method, requester=SimpleNamespace(name="system:anonymous"))
    return serve_oidc(request, CTX, authorizer or _authorizer())


def test_configuration_names_issuer_and_jwks_uri() -> None:
    reply = _get("/.well-known/openid-configuration")
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Cache-Control"] == "public, max-age=3600"
    assert json.loads(reply.body) == {
        "issuer": "https://kubernetes.default.svc.cluster.local",
        "jwks_uri": "https://10.0.0.1:6443/openid/v1/jwks",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }


def test_jwks_verifies_an_issued_token_by_its_kid() -> None:
    reply = _get("/openid/v1/jwks")
    assert reply.headers["Content-Type"] == "application/jwk-set+json"
    (key,) = json.loads(reply.body)["keys"]
    assert {key["use"], key["kty"], key["alg"], key["e"]} == {"sig", "RSA", "RS256", "AQAB"}
    token, _ = TOKENS.issue("ns", "sa", "uid", audiences=["oidc-discovery-test"])
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience="oidc-discovery-test")
    assert claims["sub"] == "system:serviceaccount:ns:sa"


def test_rbac_decides_and_other_paths_are_not_ours() -> None:
    with pytest.raises(ApiError) as refused:
        _get("/openid/v1/jwks", _authorizer(superuser=False))
    assert refused.value.code == 403
    assert str(refused.value) == 'forbidden: User "system:anonymous" cannot get path "/openid/v1/jwks"'
    granted = _authorizer(superuser=False, granted=("/openid/v1/jwks",))
    assert _get("/openid/v1/jwks", granted).status == 200
    assert _get("/version") is None
    with pytest.raises(ApiError) as posted:
        _get("/openid/v1/jwks", method="POST")
    assert posted.value.code == 405
