"""ServiceAccount Bearer tokens: issuing, verifying, bound objects, the verified-token cache."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kprov.cluster.apiserver.authn.chain import Authenticator, TokenInvalid, bearer_token
from kprov.cluster.apiserver.identity import ANONYMOUS
from kprov.cluster.apiserver.satoken import BoundRef, ServiceAccountTokens

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISSUER = "https://kubernetes.default.svc.cluster.local"


def _objects() -> dict[str, dict[str, Any]]:
    return {
        "/registry/serviceaccounts/ns1/default": {"metadata": {"name": "default", "uid": "sa-uid"}},
        "/registry/pods/ns1/p1": {"metadata": {"name": "p1", "uid": "pod-uid"}},
        "/registry/nodes/n1": {"metadata": {"name": "n1", "uid": "node-uid"}},
    }


def _request(token: str = "", scheme: str = "Bearer") -> Any:
    headers = {"Authorization": f"{scheme} {token}"} if token else {}
    return SimpleNamespace(tls=None, headers=headers)


def _auth(objects: dict[str, dict[str, Any]], **kw: Any) -> tuple[Authenticator, ServiceAccountTokens]:
    tokens = ServiceAccountTokens(KEY, [], ISSUER)
    return Authenticator(tokens, objects.get, **kw), tokens


def test_bound_token_user_groups_and_extra() -> None:
    auth, tokens = _auth(_objects())
    token, expires = tokens.issue(
        "ns1",
        "default",
        "sa-uid",
        bound=BoundRef("Pod", "p1", "pod-uid"),
        node=BoundRef("Node", "n1", "node-uid"),
    )
    assert expires - time.time() == pytest.approx(3600, abs=5)
    user = auth.authenticate(_request(token))
    assert user.name == "system:serviceaccount:ns1:default"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns1", "system:authenticated")
    assert user.uid == "sa-uid"
    extra = user.extra_dict()
    assert extra["authentication.kubernetes.io/pod-name"] == ["p1"]
    assert extra["authentication.kubernetes.io/pod-uid"] == ["pod-uid"]
    assert extra["authentication.kubernetes.io/node-name"] == ["n1"]
    assert extra["authentication.kubernetes.io/credential-id"][0].startswith("JTI=")


def test_claims_are_upstreams() -> None:
    _, tokens = _auth(_objects())
    token, _ = tokens.issue("ns1", "default", "sa-uid", ["api"], 600, BoundRef("Pod", "p1", "pod-uid"))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == ISSUER and claims["aud"] == ["api"]
    assert claims["sub"] == "system:serviceaccount:ns1:default"
    assert claims["exp"] - claims["iat"] == 600 and claims["nbf"] == claims["iat"]
    assert claims["kubernetes.io"] == {
        "namespace": "ns1",
        "serviceaccount": {"name": "default", "uid": "sa-uid"},
        "pod": {"name": "p1", "uid": "pod-uid"},
    }
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


def test_no_credentials_is_anonymous_and_other_schemes_ignored() -> None:
    auth, tokens = _auth(_objects())
    assert auth.authenticate(_request()) is ANONYMOUS
    token, _ = tokens.issue("ns1", "default", "sa-uid")
    assert auth.authenticate(_request(token, "Basic")) is ANONYMOUS
    assert bearer_token(_request(token, "bearer")) == token


@pytest.mark.parametrize(
    "make",
    [
        lambda t: "not-a-jwt",
        lambda t: ServiceAccountTokens(OTHER_KEY, [], ISSUER).issue("ns1", "default", "sa-uid")[0],
        lambda t: ServiceAccountTokens(KEY, [], "https://evil").issue("ns1", "default", "sa-uid")[0],
        lambda t: t.issue("ns1", "default", "sa-uid", ["other-audience"])[0],
        lambda t: t.issue("ns1", "default", "sa-uid", now=time.time() - 7200)[0],
        lambda t: t.issue("ns1", "default", "wrong-uid")[0],
        lambda t: t.issue("ns1", "gone", "sa-uid")[0],
        lambda t: t.issue("ns1", "default", "sa-uid", bound=BoundRef("Pod", "p1", "old-uid"))[0],
        lambda t: t.issue("ns1", "default", "sa-uid", bound=BoundRef("Secret", "s1", "x"))[0],
        lambda t: jwt.encode({"iss": ISSUER, "sub": "system:serviceaccount:ns1:default"}, "k" * 32, "HS256"),
    ],
    ids=[
        "garbage",
        "foreign-key",
        "issuer",
        "audience",
        "expired",
        "sa-uid",
        "sa-gone",
        "pod-uid",
        "secret-gone",
        "hs256",
    ],
)
def test_invalid_tokens_are_rejected(make: Any) -> None:
    auth, tokens = _auth(_objects())
    with pytest.raises(TokenInvalid):
        auth.authenticate(_request(make(tokens)))


def test_pod_deletion_revokes_at_once_despite_the_cache() -> None:
    objects = _objects()
    auth, tokens = _auth(objects)
    token, _ = tokens.issue("ns1", "default", "sa-uid", bound=BoundRef("Pod", "p1", "pod-uid"))
    assert auth.authenticate(_request(token)).name.endswith(":default")
    del objects["/registry/pods/ns1/p1"]
    with pytest.raises(TokenInvalid, match="has been deleted"):
        auth.authenticate(_request(token))


def test_pod_being_deleted_keeps_its_token_for_a_minute() -> None:
    objects = _objects()
    auth, tokens = _auth(objects)
    token, _ = tokens.issue("ns1", "default", "sa-uid", bound=BoundRef("Pod", "p1", "pod-uid"))
    meta = objects["/registry/pods/ns1/p1"]["metadata"]
    meta["deletionTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 10))
    auth.authenticate(_request(token))
    meta["deletionTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))
    with pytest.raises(TokenInvalid):
        auth.authenticate(_request(token))


def test_verified_tokens_are_cached_until_ttl() -> None:
    now = [1000.0]
    calls = []
    auth, tokens = _auth(_objects(), clock=lambda: now[0], ttl_s=10)
    token, _ = tokens.issue("ns1", "default", "sa-uid")
    real_verify = tokens.verify

    def counting(t: str, audiences: Any = None) -> Any:
        calls.append(t)
        return real_verify(t, audiences)

    tokens.verify = counting  # type: ignore[method-assign]
    for _ in range(5):
        auth.authenticate(_request(token))
    assert len(calls) == 1
    now[0] += 11
    auth.authenticate(_request(token))
    assert len(calls) == 2


def test_cache_is_bounded() -> None:
    auth, tokens = _auth(_objects(), max_entries=3)
    for _ in range(5):
        auth.authenticate(_request(tokens.issue("ns1", "default", "sa-uid")[0]))
    assert len(auth._verified) == 3


def test_review_with_explicit_audiences() -> None:
    auth, tokens = _auth(_objects())
    token, _ = tokens.issue("ns1", "default", "sa-uid", ["vault"])
    assert auth.review(token, ("vault",)).name == "system:serviceaccount:ns1:default"
    with pytest.raises(TokenInvalid):
        auth.review(token)


def test_legacy_secret_token() -> None:
    import base64

    objects = _objects()
    auth, _ = _auth(objects)
    prefix = "kubernetes.io/serviceaccount/"
    token = jwt.encode(
        {
            "iss": "kubernetes/serviceaccount",
            "sub": "system:serviceaccount:ns1:default",
            prefix + "namespace": "ns1",
            prefix + "secret.name": "tok",
            prefix + "service-account.name": "default",
            prefix + "service-account.uid": "sa-uid",
        },
        KEY,
        "RS256",
    )
    with pytest.raises(TokenInvalid):
        auth.authenticate(_request(token))  # no such Secret
    objects["/registry/secrets/ns1/tok"] = {
        "metadata": {},
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }
    assert auth.authenticate(_request(token)).name == "system:serviceaccount:ns1:default"


def test_without_keys_a_token_is_refused() -> None:
    auth = Authenticator(None, None)
    with pytest.raises(TokenInvalid):
        auth.authenticate(_request("abc"))
