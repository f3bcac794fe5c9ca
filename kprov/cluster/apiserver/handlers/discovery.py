"""/version, discovery (aggregated v2 and legacy), OpenAPI v3 and the health endpoints.

Aggregated discovery is returned when the Accept header asks for ``as=APIGroupDiscoveryList``
(client-go decides by the response Content-Type); otherwise the legacy documents
(APIVersions / APIGroupList / APIResourceList). ``/version`` reports minor "32": kubectl on
these machines is a dispatcher that picks the kubectl binary by that number.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

from aiohttp import web

from kprov.cluster.api.resources import Registry, ResourceInfo
from kprov.cluster.api.schema.openapi_v2_protobuf import encode_document
from kprov.cluster.apiserver import _lib
from kprov.cluster.apiserver.aggregation.conversion import storage_api_version
from kprov.cluster.apiserver.aggregation.discovery import RemoteGroup, aggregated_item, remote_groups
from kprov.cluster.apiserver.aggregation.registry import aggregation_of
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.negotiation import (
    go_body,
    json_bytes,
    json_response,
    preferred_media_types,
)
from kprov.cluster.apiserver.request.status import method_not_supported

__all__ = ["VERSION_INFO", "serve_discovery", "storage_version_hash"]

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "kprov",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
_AGG_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def _aggregated_type(request: ApiRequest) -> str | None:
    accept = request.headers.get("Accept", "")
    if "as=APIGroupDiscoveryList" not in accept:
        return None
    return _AGG_V2 if "v=v2;" in accept.replace(" ", "") + ";" or "v=v2," in accept else _AGG_V2BETA1


def _agg_resource(info: ResourceInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": info.resource,
        "responseKind": {"group": info.group, "version": info.version, "kind": info.kind},
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": info.singular,
        "verbs": sorted(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    if info.subresources:
        entry["subresources"] = [
            {
                "subresource": s.name,
                "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                "verbs": sorted(s.verbs),
            }
            for s in info.subresources
        ]
    return entry


def _remote(ctx: ApiContext) -> list[RemoteGroup]:
    """The groups other servers answer, merged into this server's discovery."""
    aggregation = aggregation_of(ctx)
    return remote_groups(aggregation.apiservices(), aggregation.discovery)


def _aggregated(
    registry: Registry, core: bool, content_type: str, remote: list[RemoteGroup] | None = None
) -> web.Response:
    groups: dict[str, list[tuple[str, list[ResourceInfo]]]] = {}
    for group, version in registry.group_versions():
        if (group == "") == core:
            groups.setdefault(group, []).append((version, list(registry.in_group_version(group, version))))
    version = content_type.split("v=", 1)[1].split(";", 1)[0]
    body: dict[str, Any] = {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": [
            {
                "metadata": {"name": group},
                "versions": [
                    {"version": v, "freshness": "Current", "resources": [_agg_resource(i) for i in infos]}
                    for v, infos in versions
                ],
            }
            for group, versions in groups.items()
        ],
    }
    if not core:
        body["items"].extend(aggregated_item(g) for g in remote or [])
    return web.Response(body=go_body(json_bytes(body)), headers={"Content-Type": content_type})


_UNSTORED = {("", "componentstatuses")}  # read live, never stored (as the create-only reviews)


def storage_version_hash(info: ResourceInfo) -> str | None:
    """The legacy discovery's storageVersionHash of a stored resource: the first 8 bytes of
    the SHA-256 of its storage version's "group/version/kind", base64 (as kube-apiserver
    derives it; clients such as the storage version migrator compare it); None for what
    is never stored (reviews, bindings, componentstatuses)."""
    if "list" not in info.verbs or (info.group, info.resource) in _UNSTORED:
        return None
    group, _, version = storage_api_version(info).rpartition("/")
    digest = hashlib.sha256(f"{group}/{version}/{info.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _legacy_resources(group: str, version: str, infos: list[ResourceInfo]) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for info in infos:
        entry: dict[str, Any] = {
            "name": info.resource,
            "singularName": info.singular,
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": sorted(info.verbs),
        }
        if info.short_names:
            entry["shortNames"] = list(info.short_names)
        if info.categories:
            entry["categories"] = list(info.categories)
        if (digest := storage_version_hash(info)) is not None:
            entry["storageVersionHash"] = digest
        resources.append(entry)
        for sub in info.subresources:
            resources.append(
                {
                    "name": f"{info.resource}/{sub.name}",
                    "singularName": "",
                    "namespaced": info.namespaced,
                    "kind": sub.kind,
                    "group": sub.group,
                    "version": sub.version,
                    "verbs": sorted(sub.verbs),
                }
            )
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def _api(request: ApiRequest, ctx: ApiContext) -> web.Response:
    agg = _aggregated_type(request)
    if agg:
        return _aggregated(ctx.registry, True, agg)
    return json_response(
        {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {
                    "clientCIDR": "0.0.0.0/0",
                    "serverAddress": f"{ctx.config.advertise_address}:{ctx.config.secure_port}",
                }
            ],
        }
    )


def _apis(request: ApiRequest, ctx: ApiContext) -> web.Response:
    agg = _aggregated_type(request)
    remote = _remote(ctx)
    if agg:
        return _aggregated(ctx.registry, False, agg, remote)
    groups: dict[str, list[str]] = {}
    for group, ver in ctx.registry.group_versions():
        if group:
            groups.setdefault(group, []).append(ver)
    for served in remote:
        known = groups.setdefault(served.name, [])
        groups[served.name] = served.version_names + [v for v in known if v not in served.version_names]
    items = [
        {
            "name": g,
            "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
            "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
        }
        for g, vs in groups.items()
    ]
    return json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": items})


def _group_versions(ctx: ApiContext, group: str, ver: str) -> web.Response:
    infos = list(ctx.registry.in_group_version(group, ver))
    if not infos:
        raise web.HTTPNotFound()
    return json_response(_legacy_resources(group, ver, infos))


def _api_group(ctx: ApiContext, group: str) -> web.Response:
    versions = [v for g, v in ctx.registry.group_versions() if g == group]
    for served in _remote(ctx):
        if served.name == group:
            versions = served.version_names + [v for v in versions if v not in served.version_names]
    if not versions:
        raise web.HTTPNotFound()
    return json_response(
        {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
            "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]},
        }
    )


def _remote_openapi(ctx: ApiContext) -> dict[str, bytes]:
    return aggregation_of(ctx).openapi_paths()


def _openapi_v3_index(ctx: ApiContext) -> web.Response:
    """The built-in, custom and aggregated servers' group-versions (a remote one's hash is
    its document's, so a client's cached copy is replaced when the backend's changes)."""
    index = _lib.openapi_index(ctx.registry)
    paths = dict(index["paths"])
    for path, body in _remote_openapi(ctx).items():
        paths.setdefault(path, {"serverRelativeURL": f"/openapi/v3/{path}?hash={_digest(body)}"})
    return json_response({**index, "paths": paths})


def _digest(body: bytes) -> str:
    return hashlib.sha512(body).hexdigest().upper()


def _openapi_v3_doc(ctx: ApiContext, path: str) -> web.Response:
    parts = path.split("/")
    if parts[0] == "api" and len(parts) == 2:
        group, ver = "", parts[1]
    elif parts[0] == "apis" and len(parts) == 3:
        group, ver = parts[1], parts[2]
    else:
        raise web.HTTPNotFound()
    doc = _lib.openapi_doc(ctx.registry, group, ver)
    if doc is None:
        remote = _remote_openapi(ctx).get(path)
        if remote is None:
            raise web.HTTPNotFound()
        headers = {"ETag": f'"{_digest(remote)[:32]}"', "Cache-Control": "no-cache, private"}
        return web.Response(body=remote, content_type="application/json", headers=headers)
    body = json_bytes(doc)
    etag = hashlib.sha256(body).hexdigest()[:32]
    return web.Response(
        body=body,
        content_type="application/json",
        headers={"ETag": f'"{etag}"', "Cache-Control": "no-cache, private"},
    )


def serve_discovery(request: ApiRequest, ctx: ApiContext) -> web.StreamResponse | None:
    """The document at ``request.path``, or None when the path is not one of these: /version,
    /api, /apis, /api/<v>, /apis/<g>, /apis/<g>/<v>, /openapi/v2, /openapi/v3[/<gv path>]. They are read
    only: any method but GET and HEAD is a 405."""
    document = _document(request, ctx)
    if document is None:
        return None
    if request.method not in ("GET", "HEAD"):
        raise method_not_supported(request.method, request.path)
    return document()


def _document(request: ApiRequest, ctx: ApiContext) -> Callable[[], web.Response] | None:
    match [p for p in request.path.split("/") if p]:
        case ["version"]:
            return lambda: json_response(VERSION_INFO)
        case ["api"]:
            return lambda: _api(request, ctx)
        case ["apis"]:
            return lambda: _apis(request, ctx)
        case ["api", ver]:
            return lambda: _group_versions(ctx, "", ver)
        case ["apis", group]:
            return lambda: _api_group(ctx, group)
        case ["apis", group, ver]:
            return lambda: _group_versions(ctx, group, ver)
        case ["openapi", "v3"]:
            return lambda: _openapi_v3_index(ctx)
        case ["openapi", "v3", *rest]:
            return lambda: _openapi_v3_doc(ctx, "/".join(rest))
        case ["openapi", "v2"]:
            return lambda: _openapi_v2(request, ctx)
    return None



_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_V2_FORMS = (  # (asked-for media type, served form), in kube-openapi's order of preference
    ("application/json", "json"),
    ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", "protobuf"),  # kubectl's
    (_V2_PROTOBUF, "protobuf"),
)


class _OpenApiV2:
    """The OpenAPI v2 document of one registry (the registry changes with CRDs), its bodies
    and its ETag, made at the first ask after each change."""

    def __init__(self) -> None:
        self.registry: Registry | None = None
        self.bodies: dict[str, Any] = {}
        self.etag = ""


def v2_form(accept: str) -> str | None:
    """Which form of the v2 document ``accept`` gets, as kube-openapi negotiates it: ranges
    by descending q, the first that matches a served type (wildcards allowed) wins, JSON
    before protobuf; None when nothing matches (406)."""
    for media in preferred_media_types(accept or "*/*"):
        kind, _, sub = media.partition("/")
        for served, form in _V2_FORMS:
            served_kind, _, served_sub = served.partition("/")
            if kind in (served_kind, "*") and sub in (served_sub, "*"):
                return form
    return None


def _openapi_v2(request: ApiRequest, ctx: ApiContext) -> web.Response:
    """The v2 document as JSON or as gnostic's protobuf (what kubectl asks for, to validate a
    ``kind: List`` client-side), with one ETag for both (the reply varies by Accept, as
    kube-openapi's); 304 on If-None-Match; a bare 406 when neither form is acceptable. Both
    forms are rebuilt when the registry changes (a CRD was added, changed or removed) and
    kept until then (the protobuf form made at its first request)."""
    form = v2_form(request.headers.get("Accept", ""))
    headers = {"Cache-Control": "no-cache, private", "Vary": "Accept"}
    if form is None:
        return web.Response(status=406, headers=headers)
    cached = ctx.shared(_OpenApiV2, _OpenApiV2)
    if cached.registry is not ctx.registry:
        document = _lib.openapi_v2(ctx.registry)
        body = json_bytes(document)
        cached.registry, cached.bodies = ctx.registry, {"document": document, "json": body}
        cached.etag = hashlib.sha512(body).hexdigest().upper()
    bodies, etag = cached.bodies, cached.etag
    headers["ETag"] = f'"{etag}"'
    if etag in request.headers.get("If-None-Match", "").replace('"', " ").split():
        return web.Response(status=304, headers=headers)
    if form == "json":
        return web.Response(body=bodies["json"], content_type="application/json", headers=headers)
    if "protobuf" not in bodies:
        bodies["protobuf"] = encode_document(bodies["document"])
    return web.Response(body=bodies["protobuf"], content_type=_V2_PROTOBUF, headers=headers)
