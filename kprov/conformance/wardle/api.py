"""The wardle.example.com API: discovery and OpenAPI v3 documents and REST semantics, pure.

Design: :meth:`WardleAPI.handle` takes a method, a path, the query and the body and returns
a :class:`Reply` (status and JSON), as the generic registry of a Kubernetes API server
answers, in the versions upstream's sample-apiserver serves: v1alpha1 ``flunders``
(namespaced, kind Flunder) and ``fischers`` (cluster-scoped, kind Fischer), and v1beta1
(preferred) ``flunders`` - one stored object per name, shown in the version asked for -
with create (201), get, list (label selectors of equality and existence),
update (PUT, resourceVersion precondition), merge patch, delete (200 with the object) and
deletecollection; errors are ``Status`` objects with upstream's reasons and messages. Watch
is not offered, and not advertised in discovery. :func:`attributes` gives the
authorization attributes of a request (resource or non-resource), as the API server's
request-info resolver would.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .store import Conflict, Exists, Store

__all__ = ["GROUP", "RESOURCES", "VERSION", "VERSIONS", "Reply", "WardleAPI", "attributes",
           "openapi_documents", "status"]

GROUP = "wardle.example.com"
VERSION = "v1alpha1"
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update"]
# plural -> (kind, namespaced)
RESOURCES: dict[str, tuple[str, bool]] = {"flunders": ("Flunder", True), "fischers": ("Fischer", False)}
# version -> its resources, the preferred version first (as the sample-apiserver's scheme orders them)
VERSIONS: dict[str, dict[str, tuple[str, bool]]] = {"v1beta1": {"flunders": RESOURCES["flunders"]},
                                                     VERSION: RESOURCES}
_PREFIX = f"/registry/{GROUP}"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_REQUIREMENT = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9_.-]*))?\s*$")
Obj = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    status: int
    body: Obj


def status(code: int, reason: str, message: str, details: Obj | None = None) -> Reply:
    obj: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}
    if details:
        obj["details"] = details
    return Reply(code, obj)


def _not_found_path() -> Reply:
    return status(404, "NotFound", "the server could not find the requested resource")


def _uid() -> str:
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def discovery_documents() -> dict[str, Obj]:
    """path -> document, for the discovery paths this server answers."""
    versions = [{"groupVersion": f"{GROUP}/{v}", "version": v} for v in VERSIONS]
    group = {"kind": "APIGroup", "apiVersion": "v1", "name": GROUP, "versions": versions,
             "preferredVersion": versions[0]}
    documents: dict[str, Obj] = {
        "/apis": {"kind": "APIGroupList", "apiVersion": "v1",
                  "groups": [{k: v for k, v in group.items() if k not in ("kind", "apiVersion")}]},
        f"/apis/{GROUP}": group,
    }
    for version, resources in VERSIONS.items():
        listed = [{"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                   "verbs": VERBS} for plural, (kind, namespaced) in resources.items()]
        documents[f"/apis/{GROUP}/{version}"] = {"kind": "APIResourceList", "apiVersion": "v1",
                                                 "groupVersion": f"{GROUP}/{version}", "resources": listed}
    return documents


def _object_schema(kind: str, version: str) -> Obj:
    meta = {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    return {"type": "object", "description": f"{kind} is an example type of the sample API server.",
            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                           "metadata": {"allOf": [meta], "default": {}},
                           "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                           "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            "x-kubernetes-group-version-kind": [{"group": GROUP, "kind": kind, "version": version}]}


def openapi_documents() -> dict[str, Obj]:
    """path -> document: the OpenAPI v3 index (/openapi/v3) and one document per version,
    each listing its kinds' get/list paths and schemas, as an aggregated server publishes them
    (the aggregator merges them into its own /openapi/v3)."""
    docs: dict[str, Obj] = {}
    index: dict[str, Obj] = {}
    for version, resources in VERSIONS.items():
        prefix = f"{GROUP.replace('.', '_')}_{version}"
        schemas: dict[str, Obj] = {"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {
            "type": "object", "properties": {"name": {"type": "string"}, "namespace": {"type": "string"},
                                             "labels": {"type": "object",
                                                        "additionalProperties": {"type": "string"}}}}}
        paths: dict[str, Obj] = {}
        for plural, (kind, namespaced) in resources.items():
            ref = f"com.example.wardle.{version}.{kind}"
            schemas[ref] = _object_schema(kind, version)
            scope = "/namespaces/{namespace}" if namespaced else ""
            reply = {"200": {"description": "OK", "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{ref}"}}}}}
            paths[f"/apis/{GROUP}/{version}{scope}/{plural}/{{name}}"] = {"get": {
                "operationId": f"read{kind}", "tags": [prefix], "responses": reply}}
            paths[f"/apis/{GROUP}/{version}{scope}/{plural}"] = {"get": {
                "operationId": f"list{kind}", "tags": [prefix],
                "responses": {"200": {"description": "OK"}}}}
        document = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
                    "paths": paths, "components": {"schemas": schemas}}
        path = f"apis/{GROUP}/{version}"
        docs[f"/openapi/v3/{path}"] = document
        digest = hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest().upper()
        index[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    docs["/openapi/v3"] = {"paths": index}
    return docs


@dataclass(frozen=True)
class Target:
    resource: str
    namespace: str  # "" for cluster-scoped, or a list across namespaces
    name: str
    version: str = VERSION

    @property
    def group_version(self) -> str:
        return f"{GROUP}/{self.version}"


def parse_target(path: str) -> Target | None:
    """The resource a path names, or None (discovery or unknown)."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] != ["apis", GROUP] or len(parts) < 4 or parts[2] not in VERSIONS:
        return None
    served = VERSIONS[parts[2]]
    rest = parts[3:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    if rest[0] not in served or len(rest) > 2:
        return None
    namespaced = served[rest[0]][1]
    if namespace and not namespaced:
        return None
    return Target(rest[0], namespace, rest[1] if len(rest) == 2 else "", parts[2])


def attributes(method: str, path: str, query: Mapping[str, list[str]]) -> tuple[dict[str, str], bool]:
    """SubjectAccessReview attributes of a request, and whether they are non-resource ones."""
    target = parse_target(path)
    if target is None:
        return {"path": path, "verb": method.lower()}, True
    collection = not target.name
    verb = {
        "GET": "list" if collection else "get", "POST": "create", "PUT": "update", "PATCH": "patch",
        "DELETE": "deletecollection" if collection else "delete",
    }.get(method, method.lower())
    if verb == "list" and (query.get("watch") or [""])[0] in ("true", "1"):
        verb = "watch"
    return {"verb": verb, "group": GROUP, "version": target.version, "resource": target.resource,
            "namespace": target.namespace, "name": target.name}, False


def _selector(text: str) -> list[tuple[bool, str, str | None, bool]] | None:
    """(negated-existence, key, value, equal) requirements; None when it cannot be parsed."""
    found = []
    for part in [p for p in text.split(",") if p.strip()]:
        match = _REQUIREMENT.match(part)
        if match is None or (match.group(1) and match.group(3)):
            return None
        found.append((bool(match.group(1)), match.group(2), match.group(4) if match.group(3) else None,
                      match.group(3) != "!="))
    return found


def _matches(labels: Mapping[str, str], requirements: list[tuple[bool, str, str | None, bool]]) -> bool:
    for absent, key, value, equal in requirements:
        if value is None:
            if (key in labels) == absent:
                return False
        elif (labels.get(key) == value) != equal:
            return False
    return True


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _in_version(reply: Reply, target: Target) -> Reply:
    """The reply's objects shown in the version asked for (one stored object, any version)."""
    body = reply.body
    if body.get("kind") == "Status":
        return reply
    for obj in [body, *(body.get("items") or [])]:
        if isinstance(obj, dict) and "apiVersion" in obj:
            obj["apiVersion"] = target.group_version
    return reply


class WardleAPI:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._discovery = {**discovery_documents(), **openapi_documents()}

    def handle(self, method: str, path: str, query: Mapping[str, list[str]], body: bytes,
               content_type: str = "application/json") -> Reply:
        path = "/" + path.strip("/")
        if method == "GET" and path in self._discovery:
            return Reply(200, self._discovery[path])
        target = parse_target(path)
        if target is None:
            return _not_found_path()
        if target.namespace == "" and RESOURCES[target.resource][1] and method != "GET":
            return _not_found_path()  # namespaced kinds are written through their namespace
        if method == "GET" and (query.get("watch") or [""])[0] in ("true", "1"):
            return status(405, "MethodNotAllowed", "watch is not supported by this server")
        if target.name:
            handlers = {"GET": self._get, "PUT": self._update, "PATCH": self._patch, "DELETE": self._delete}
        else:
            handlers = {"GET": self._list, "POST": self._create, "DELETE": self._delete_collection}
        handler = handlers.get(method)
        if handler is None:
            return status(405, "MethodNotAllowed",
                          "the server does not allow this method on the requested resource")
        if body[:4] == b"k8s\x00":
            return status(415, "UnsupportedMediaType", "this server reads JSON request bodies only")
        return _in_version(handler(target, query, body, content_type), target)

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _key(target: Target, name: str = "") -> str:
        scope = f"{target.namespace}/" if target.namespace else ""
        return f"{_PREFIX}/{target.resource}/{scope}{name or target.name}"

    @staticmethod
    def _qualified(target: Target) -> str:
        return f"{target.resource}.{GROUP}"

    def _details(self, target: Target, name: str) -> Obj:
        return {"name": name, "group": GROUP, "kind": target.resource}

    def _not_found(self, target: Target, name: str) -> Reply:
        message = f'{self._qualified(target)} "{name}" not found'
        return status(404, "NotFound", message, self._details(target, name))

    def _conflict(self, target: Target, name: str) -> Reply:
        message = (f'Operation cannot be fulfilled on {self._qualified(target)} "{name}": the object has '
                   "been modified; please apply your changes to the latest version and try again")
        return status(409, "Conflict", message, self._details(target, name))

    @staticmethod
    def _out(obj: Obj, revision: int) -> Obj:
        obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
        return obj

    def _decode(self, target: Target, body: bytes) -> Obj | Reply:
        try:
            obj = json.loads(body or b"null")
        except ValueError as exc:
            return status(400, "BadRequest", f"the body of the request could not be decoded: {exc}")
        if not isinstance(obj, dict):
            return status(400, "BadRequest", "the body of the request must be a JSON object")
        kind = RESOURCES[target.resource][0]
        accepted = {f"{GROUP}/{v}" for v, served in VERSIONS.items() if target.resource in served}
        if obj.get("kind", kind) != kind or obj.get("apiVersion", target.group_version) not in accepted:
            return status(400, "BadRequest", f"the object must be a {kind} of {target.group_version}")
        obj["kind"], obj["apiVersion"] = kind, target.group_version
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            return status(400, "BadRequest", "metadata must be an object")
        if target.namespace and meta.get("namespace", target.namespace) != target.namespace:
            return status(400, "BadRequest", "the namespace of the provided object does not match the "
                                              "namespace sent on the request")
        if target.namespace:
            meta["namespace"] = target.namespace
        obj.setdefault("spec", {})
        obj.setdefault("status", {})
        return obj

    # -- verbs -----------------------------------------------------------------------------
    def _create(self, target: Target, query: Mapping[str, list[str]], body: bytes, _: str) -> Reply:
        obj = self._decode(target, body)
        if isinstance(obj, Reply):
            return obj
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{_uid()[:5]}"
        name = str(meta.get("name") or "")
        if not _NAME.match(name) or len(name) > 253:
            return status(422, "Invalid", f'{RESOURCES[target.resource][0]}.{GROUP} "{name}" is invalid: '
                                          "metadata.name: Invalid value", self._details(target, name))
        for server_set in ("resourceVersion", "deletionTimestamp", "selfLink"):
            meta.pop(server_set, None)
        meta.update(uid=_uid(), creationTimestamp=_now(), generation=1)
        try:
            revision = self._store.create(self._key(target, name), obj)
        except Exists:
            return status(409, "AlreadyExists", f'{self._qualified(target)} "{name}" already exists',
                          self._details(target, name))
        return Reply(201, self._out(obj, revision))

    def _get(self, target: Target, query: Mapping[str, list[str]], body: bytes, _: str) -> Reply:
        found = self._store.get(self._key(target))
        return self._not_found(target, target.name) if found is None else Reply(200, self._out(*found))

    def _matching(self, target: Target, query: Mapping[str, list[str]]) -> tuple[list[Obj], int] | Reply:
        requirements = _selector((query.get("labelSelector") or [""])[0])
        if requirements is None:
            return status(400, "BadRequest", "unable to parse the label selector")
        prefix = f"{_PREFIX}/{target.resource}/" + (f"{target.namespace}/" if target.namespace else "")
        items, revision = self._store.list(prefix)
        chosen = [self._out(obj, rev) for obj, rev in items
                  if _matches((obj.get("metadata") or {}).get("labels") or {}, requirements)]
        return chosen, revision

    def _list(self, target: Target, query: Mapping[str, list[str]], body: bytes, _: str) -> Reply:
        found = self._matching(target, query)
        if isinstance(found, Reply):
            return found
        items, revision = found
        return Reply(200, {"kind": f"{RESOURCES[target.resource][0]}List", "apiVersion": target.group_version,
                           "metadata": {"resourceVersion": str(revision)}, "items": items})

    def _write(self, target: Target, obj: Obj, current: Obj, current_rev: int) -> Reply:
        meta = obj["metadata"]
        wanted_rv = meta.get("resourceVersion")
        if wanted_rv and str(wanted_rv) != str(current_rev):
            return self._conflict(target, target.name)
        kept = current.get("metadata") or {}
        for key in ("uid", "creationTimestamp", "generation"):
            if key in kept:
                meta[key] = kept[key]
        meta.pop("resourceVersion", None)
        if obj.get("spec") != current.get("spec"):
            meta["generation"] = int(kept.get("generation", 1)) + 1
        try:
            revision = self._store.update(self._key(target), obj, current_rev)
        except Conflict:
            return self._conflict(target, target.name)
        except KeyError:
            return self._not_found(target, target.name)
        return Reply(200, self._out(obj, revision))

    def _update(self, target: Target, query: Mapping[str, list[str]], body: bytes, _: str) -> Reply:
        obj = self._decode(target, body)
        if isinstance(obj, Reply):
            return obj
        if obj["metadata"].get("name") != target.name:
            return status(400, "BadRequest", "the name of the object does not match the name on the URL")
        found = self._store.get(self._key(target))
        if found is None:
            return self._not_found(target, target.name)
        return self._write(target, obj, *found)

    def _patch(self, target: Target, query: Mapping[str, list[str]], body: bytes, content_type: str) -> Reply:
        kind = content_type.split(";", 1)[0].strip()
        if kind not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            return status(415, "UnsupportedMediaType", f"the patch type {kind!r} is not supported here")
        try:
            patch = json.loads(body or b"{}")
        except ValueError as exc:
            return status(400, "BadRequest", f"the patch could not be decoded: {exc}")
        found = self._store.get(self._key(target))
        if found is None:
            return self._not_found(target, target.name)
        current, revision = found
        merged = _merge_patch(json.loads(json.dumps(current)), patch)
        obj = self._decode(target, json.dumps(merged).encode())
        if isinstance(obj, Reply):
            return obj
        if obj["metadata"].get("name") != target.name:
            return status(400, "BadRequest", "a patch cannot change the object's name")
        return self._write(target, obj, current, revision)

    def _delete(self, target: Target, query: Mapping[str, list[str]], body: bytes, _: str) -> Reply:
        gone = self._store.delete(self._key(target))
        return self._not_found(target, target.name) if gone is None else Reply(200, self._out(*gone))

    def _delete_collection(self, target: Target, query: Mapping[str, list[str]], body: bytes,
                           _: str) -> Reply:
        found = self._matching(target, query)
        if isinstance(found, Reply):
            return found
        deleted = []
        revision = found[1]
        for obj in found[0]:
            meta = obj.get("metadata") or {}
            key = self._key(Target(target.resource, str(meta.get("namespace") or ""), str(meta.get("name"))))
            gone = self._store.delete(key)
            if gone is not None:
                deleted.append(self._out(*gone))
                revision = gone[1]
        return Reply(200, {"kind": f"{RESOURCES[target.resource][0]}List", "apiVersion": target.group_version,
                           "metadata": {"resourceVersion": str(revision)}, "items": deleted})
