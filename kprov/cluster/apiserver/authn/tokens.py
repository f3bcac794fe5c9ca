"""The token endpoints of authentication.k8s.io/v1, none of them stored:

- ``POST .../serviceaccounts/<name>/token`` (TokenRequest, ``kubectl create token``): a
  signed token for the ServiceAccount with the requested audiences (default: the server's),
  ``expirationSeconds`` (default 3600, at least 600) and optional ``boundObjectRef`` (a Pod
  - whose serviceAccountName must be this one, and whose node is named in the token too -,
  a Secret or a Node; a given uid must match the live object's, else 409).
- ``POST tokenreviews`` (TokenReview): is this token valid, for these audiences, and whose.
- ``POST selfsubjectreviews`` (SelfSubjectReview, ``kubectl auth whoami``): the caller's
  own user info as the server authenticated it.
Messages and status codes follow kube-apiserver's registry for these kinds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from kprov.cluster.api.errors import Cause
from kprov.cluster.api.objects import format_time, now_rfc3339
from kprov.cluster.api.schema.go_types import GoTypeError, check_go_types
from kprov.cluster.apiserver.authn.chain import Authenticator, TokenInvalid
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.identity import UserInfo, user_info
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.negotiation import decode_body, json_response, media_type
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.status import ApiError, StatusError, bad_request, not_found, refused
from kprov.cluster.apiserver.satoken import BoundRef, ServiceAccountTokens
from kprov.cluster.storage import object_key

__all__ = ["handle_self_subject_review", "handle_token_request", "handle_token_review"]

_AUTHN = "authentication.k8s.io/v1"
_MIN_EXPIRATION_S = 600
_MAX_EXPIRATION_S = 1 << 32


def _body(request: ApiRequest, kind: str) -> dict[str, Any]:
    body = request.body
    obj = decode_body(body, media_type(request)) if body.strip() else {}
    if not isinstance(obj, dict):
        raise bad_request(f"a {kind} must be an object")
    try:  # a field of the wrong JSON type is refused as upstream's typed decoding refuses it
        check_go_types(f"authentication.{kind}", obj)
    except GoTypeError as exc:
        raise bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: {exc}') from None
    return obj


def _invalid(kind: str, name: str, causes: list[Cause]) -> ApiError:
    joined = ", ".join(str(c) for c in causes)
    if len(causes) > 1:
        joined = f"[{joined}]"
    error = StatusError(
        f'{kind}.authentication.k8s.io "{name}" is invalid: {joined}',
        422,
        "Invalid",
        {"name": name, "group": "authentication.k8s.io", "kind": kind},
    )
    error.causes = list(causes)
    return error


async def _live(ctx: ApiContext, resource: str, namespace: str, name: str) -> dict[str, Any]:
    """The object as stored now: the watch cache when it has it, else a read from storage (an
    object created a moment ago through this server may not have reached its cache yet, and
    upstream reads these from storage)."""
    info = ctx.registry.get("", "v1", resource)
    assert info is not None
    obj = ctx.cache.get(object_key("", resource, namespace, name))
    if obj is not None:
        return obj
    stored = await ctx.store.get(ctx.key(info, namespace, name))
    if stored is None:
        raise not_found(info, name)
    return stored.obj


def _validate(spec: dict[str, Any], name: str, namespace: str, meta: dict[str, Any]) -> int:
    causes: list[Cause] = []
    if meta.get("name") and meta["name"] != name:
        causes.append(
            Cause(
                "metadata.name",
                "FieldValueInvalid",
                f'Invalid value: "{meta["name"]}": must match the service account name if specified',
            )
        )
    if meta.get("namespace") and meta["namespace"] != namespace:
        causes.append(
            Cause(
                "metadata.namespace",
                "FieldValueInvalid",
                f'Invalid value: "{meta["namespace"]}": '
                "must match the service account namespace if specified",
            )
        )
    expiration = spec.get("expirationSeconds", 3600)
    if not isinstance(expiration, int) or isinstance(expiration, bool):
        raise bad_request("spec.expirationSeconds must be an integer")
    if expiration < _MIN_EXPIRATION_S:
        causes.append(
            Cause(
                "spec.expirationSeconds",
                "FieldValueInvalid",
                f"Invalid value: {expiration}: may not specify a duration less than 10 minutes",
            )
        )
    elif expiration > _MAX_EXPIRATION_S:
        causes.append(
            Cause(
                "spec.expirationSeconds",
                "FieldValueInvalid",
                f"Invalid value: {expiration}: may not specify a duration larger than 2^32 seconds",
            )
        )
    if causes:
        raise _invalid("TokenRequest", name, causes)
    return expiration


async def _bind(
    ctx: ApiContext, ref: dict[str, Any], sa_name: str, namespace: str
) -> tuple[BoundRef | None, BoundRef | None]:
    """The object a token is bound to, and the node named in it."""
    kind = str(ref.get("kind", ""))
    api_version = str(ref.get("apiVersion", "") or "v1")
    group = api_version.rpartition("/")[0]
    name = str(ref.get("name", ""))
    node_ref: BoundRef | None = None
    if group == "" and kind == "Pod":
        pod = await _live(ctx, "pods", namespace, name)
        pod_sa = (pod.get("spec") or {}).get("serviceAccountName", "") or "default"
        if pod_sa != sa_name:
            raise bad_request(
                f'cannot bind token for serviceaccount "{sa_name}" '
                f'to pod running with serviceaccount "{pod_sa}"'
            )
        obj = pod
        pod_spec: dict[str, Any] = pod.get("spec") or {}
        node_name: str = pod_spec.get("nodeName") or ""
        node = ctx.cache.get(object_key("", "nodes", "", node_name)) if node_name else None
        if node is not None:
            node_ref = BoundRef("Node", node_name, (node.get("metadata") or {}).get("uid", ""))
    elif group == "" and kind == "Secret":
        obj = await _live(ctx, "secrets", namespace, name)
    elif group == "" and kind == "Node":
        obj = await _live(ctx, "nodes", "", name)
    else:
        version = api_version.rpartition("/")[2]
        raise bad_request(f"cannot bind token to object of type {group}/{version}, Kind={kind}")
    uid = (obj.get("metadata") or {}).get("uid", "")
    if ref.get("uid") and ref["uid"] != uid:
        raise StatusError(
            f'Operation cannot be fulfilled on {kind} "{name}": the UID in the bound object reference '
            f"({ref['uid']}) does not match the UID in record ({uid}). "
            "The object might have been deleted and then recreated",
            409,
            "Conflict",
            {"name": name, "kind": kind},
        )
    if kind == "Node":
        return None, BoundRef("Node", name, uid)
    return BoundRef(kind, name, uid), node_ref


def _node_restriction(ctx: ApiContext, node: str, ri: RequestInfo, bound: BoundRef | None) -> None:
    """A node may only ask for tokens bound to a pod of its own (upstream's NodeRestriction)."""
    pod = ctx.cache.get(object_key("", "pods", ri.namespace, bound.name)) if bound else None
    on_node = pod is not None and (pod.get("spec") or {}).get("nodeName") == node
    if bound is None or bound.kind != "Pod" or not on_node:
        raise refused("", "serviceaccounts", ri.name, "node requested token not bound to a pod")


def _tokens(ctx: ApiContext) -> ServiceAccountTokens:
    tokens = ctx.sa_tokens
    if tokens is None or not tokens.can_issue:
        raise ApiError("the server has no service-account signing key", 503, "ServiceUnavailable")
    return tokens


async def handle_token_request(request: ApiRequest, ctx: ApiContext, ri: RequestInfo) -> web.Response:
    if ri.verb != "create":
        raise ApiError(
            "the server does not allow this method on the requested resource", 405, "MethodNotAllowed"
        )
    tokens = _tokens(ctx)
    review = _body(request, "TokenRequest")
    spec: dict[str, Any] = dict(review.get("spec") or {})
    meta: dict[str, Any] = dict(review.get("metadata") or {})
    expiration = _validate(spec, ri.name, ri.namespace, meta)
    sa = await _live(ctx, "serviceaccounts", ri.namespace, ri.name)
    bound: BoundRef | None = None
    node: BoundRef | None = None
    ref = spec.get("boundObjectRef")
    if isinstance(ref, dict) and ref:
        bound, node = await _bind(ctx, ref, ri.name, ri.namespace)
    user = request.requester
    if user.name.startswith("system:node:") and "system:nodes" in user.groups:
        _node_restriction(ctx, user.name[len("system:node:") :], ri, bound)
    audiences = [str(a) for a in spec.get("audiences") or []] or list(tokens.audiences)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    token, expires = tokens.issue(
        ri.namespace,
        ri.name,
        (sa.get("metadata") or {}).get("uid", ""),
        audiences,
        expiration,
        bound,
        node,
        now=now.timestamp(),
    )
    meta.setdefault("name", ri.name)
    meta.setdefault("namespace", ri.namespace)
    meta["creationTimestamp"] = format_time(now)
    spec["audiences"] = audiences
    spec["expirationSeconds"] = expiration
    spec.setdefault("boundObjectRef", None)
    out = {
        "kind": "TokenRequest",
        "apiVersion": _AUTHN,
        "metadata": meta,
        "spec": spec,
        "status": {
            "token": token,
            "expirationTimestamp": format_time(dt.datetime.fromtimestamp(expires, dt.UTC)),
        },
    }
    return json_response(out, 201)


async def handle_token_review(
    request: ApiRequest, ctx: ApiContext, authenticator: Authenticator
) -> web.Response:
    review = _body(request, "TokenReview")
    spec: dict[str, Any] = review.get("spec") or {}
    token = str(spec.get("token", ""))
    if not token:
        raise bad_request("token is required for TokenReview in authentication")
    wanted = tuple(str(a) for a in spec.get("audiences") or [])
    status: dict[str, Any]
    try:
        tokens = authenticator.tokens
        audiences = wanted or (tokens.audiences if tokens is not None else ())
        user = authenticator.review(token, audiences)
        status = {"authenticated": True, "user": user_info(user), "audiences": list(audiences)}
    except TokenInvalid as exc:
        status = {"user": {}, "error": f"[invalid bearer token, {exc}]"}
    meta = dict(review.get("metadata") or {})
    meta["creationTimestamp"] = now_rfc3339()
    out = {"kind": "TokenReview", "apiVersion": _AUTHN, "metadata": meta, "spec": spec, "status": status}
    return json_response(out, 201)


async def handle_self_subject_review(user: UserInfo) -> web.Response:
    out = {
        "kind": "SelfSubjectReview",
        "apiVersion": _AUTHN,
        "metadata": {"creationTimestamp": now_rfc3339()},
        "status": {"userInfo": user_info(user)},
    }
    return json_response(out, 201)
