"""Access reviews (authorization.k8s.io/v1), answered from the authorizer, never stored.

- SelfSubjectAccessReview (``kubectl auth can-i``): may the caller (after impersonation, so
  ``--as`` asks for someone else) do this?
- SubjectAccessReview / LocalSubjectAccessReview: the same for the user, groups, uid and
  extra named in the spec (the local one in the URL's namespace).
- SelfSubjectRulesReview (``kubectl auth can-i --list``): every rule the caller holds in
  ``spec.namespace``, from the RBAC index (``incomplete`` is false: nothing else decides).

Resource attributes are checked as a request with them would be; non-resource attributes
(``/healthz``...) against RBAC's nonResourceURLs, system:masters holding every path.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kprov.cluster.apiserver.authz.chain import Authorizer, authorizer_of
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.negotiation import decode_body, json_response, media_type
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.status import bad_request

__all__ = ["KINDS", "handle_review", "rules_review_status"]

KINDS = {
    "selfsubjectaccessreviews": "SelfSubjectAccessReview",
    "subjectaccessreviews": "SubjectAccessReview",
    "localsubjectaccessreviews": "LocalSubjectAccessReview",
    "selfsubjectrulesreviews": "SelfSubjectRulesReview",
}


def _allowed(authorizer: Authorizer, user: UserInfo, spec: dict[str, Any], namespace: str) -> bool:
    attrs = spec.get("resourceAttributes")
    if attrs:
        ri = RequestInfo(
            group=str(attrs.get("group", "")),
            version=str(attrs.get("version", "v1")),
            resource=str(attrs.get("resource", "")),
            namespace=namespace or str(attrs.get("namespace", "")),
            name=str(attrs.get("name", "")),
            subresource=str(attrs.get("subresource", "")),
            verb=str(attrs.get("verb", "")),
        )
        return authorizer.allows(user, ri)
    urls = spec.get("nonResourceAttributes") or {}
    if authorizer.is_superuser(user):
        return True
    return authorizer.rbac.allows_url(user, str(urls.get("verb", "")), str(urls.get("path", "")))


def rules_review_status(authorizer: Authorizer, user: UserInfo, namespace: str) -> dict[str, Any]:
    resource_rules: list[dict[str, Any]] = []
    url_rules: list[dict[str, Any]] = []
    for rule in authorizer.rbac.rules_for(user, namespace):
        if rule.urls:
            url_rules.append({"verbs": sorted(rule.verbs), "nonResourceURLs": list(rule.urls)})
            continue
        entry: dict[str, Any] = {
            "verbs": sorted(rule.verbs),
            "apiGroups": sorted(rule.groups),
            "resources": sorted(rule.resources),
        }
        if rule.names:
            entry["resourceNames"] = sorted(rule.names)
        resource_rules.append(entry)
    return {"resourceRules": resource_rules, "nonResourceRules": url_rules, "incomplete": False}


def _subject(spec: dict[str, Any]) -> UserInfo:
    extra = spec.get("extra") or {}
    return UserInfo(
        str(spec.get("user", "")),
        tuple(str(g) for g in spec.get("groups") or ()),
        uid=str(spec.get("uid", "")),
        extra=tuple((str(k), tuple(str(v) for v in vs or ())) for k, vs in extra.items()),
    )


async def handle_review(request: ApiRequest, ctx: ApiContext, ri: RequestInfo) -> web.Response:
    kind = KINDS[ri.resource]
    user = request.requester
    review = decode_body(request.body, media_type(request))
    if not isinstance(review, dict):
        raise bad_request(f"a {kind} must be an object")
    spec: dict[str, Any] = review.get("spec") or {}
    authorizer = authorizer_of(ctx)
    if kind == "SelfSubjectRulesReview":
        status = rules_review_status(authorizer, user, str(spec.get("namespace", "")))
    else:
        subject = user if kind == "SelfSubjectAccessReview" else _subject(spec)
        if kind != "SelfSubjectAccessReview" and not subject.name and not subject.groups:
            raise bad_request(f"{kind} must specify a user or groups")
        allowed = _allowed(authorizer, subject, spec, ri.namespace)
        status = {"allowed": allowed}
        if not allowed:
            status["reason"] = ""
    meta: dict[str, Any] = {"creationTimestamp": None}
    if ri.namespace:
        meta["namespace"] = ri.namespace
    return json_response(
        {
            "kind": kind,
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": meta,
            "spec": spec,
            "status": status,
        },
        201,
    )
