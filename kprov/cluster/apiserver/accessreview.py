"""SelfSubjectAccessReview (``kubectl auth can-i``): answered from the authorizer, never stored."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kprov.cluster.apiserver.authn import UserInfo
from kprov.cluster.apiserver.authz import authorizer_of
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.http1 import AnyRequest
from kprov.cluster.apiserver.negotiation import decode_body, json_response, media_type
from kprov.cluster.apiserver.requestinfo import RequestInfo
from kprov.cluster.apiserver.status import bad_request

__all__ = ["handle_self_subject_access_review"]


async def handle_self_subject_access_review(
    request: AnyRequest, ctx: ApiContext, user: UserInfo, body: bytes
) -> web.Response:
    review = decode_body(body, media_type(request))
    if not isinstance(review, dict):
        raise bad_request("a SelfSubjectAccessReview must be an object")
    spec: dict[str, Any] = review.get("spec") or {}
    attrs = spec.get("resourceAttributes")
    if attrs:
        ri = RequestInfo(
            group=str(attrs.get("group", "")),
            version=str(attrs.get("version", "v1")),
            resource=str(attrs.get("resource", "")),
            namespace=str(attrs.get("namespace", "")),
            name=str(attrs.get("name", "")),
            subresource=str(attrs.get("subresource", "")),
            verb=str(attrs.get("verb", "")),
        )
        allowed = authorizer_of(ctx).allows(user, ri)
    else:  # non-resource URLs (/healthz, /version...): public to every authenticated user
        allowed = True
    return json_response(
        {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": {"allowed": allowed, **({} if allowed else {"reason": ""})},
        },
        201,
    )
