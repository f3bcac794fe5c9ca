"""Seeded generator of hostile requests for the API server fuzz harness.

Each :class:`Case` is one HTTP request (method, target, headers, body) plus how to send it
(``mode``: a normal request, a slow body abandoned midway, a watch opened and dropped) and
as whom (``identity``: the admin's client certificate, nobody, or a bad bearer token).
The generator draws from a ``random.Random`` so a seed replays a run exactly; no external
fuzzing library is needed for a stream of structured mutations like these.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

__all__ = ["Case", "NAMESPACE", "cases"]

NAMESPACE = "fuzz"
_BODY_LIMIT = 3 * 1024 * 1024

_CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}}
_CONTENT_TYPES = (
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "text/plain",
    "application/xml",
    "application/json; charset=latin1",
    "application/json;;;=",
    "*/*",
    "",
    "application/" + "x" * 300,
)
_PATCH_TYPES = _CONTENT_TYPES[3:7]
_QUERY_KEYS = (
    "resourceVersion",
    "resourceVersionMatch",
    "limit",
    "continue",
    "fieldSelector",
    "labelSelector",
    "dryRun",
    "fieldValidation",
    "fieldManager",
    "force",
    "watch",
    "timeoutSeconds",
    "allowWatchBookmarks",
    "sendInitialEvents",
    "pretty",
    "gracePeriodSeconds",
    "propagationPolicy",
)
_QUERY_VALUES = (
    "",
    "-1",
    "0",
    "1",
    "abc",
    "99999999999999999999999",
    "1e3",
    "NaN",
    "true",
    "false",
    "All",
    "Strict",
    "Warn",
    "Ignore",
    "bogus",
    "NotOlderThan",
    "Exact",
    "a=b",
    "a!=b",
    "a in (b,c)",
    "!!",
    "metadata.name=x",
    "spec.nodeName==n",
    "status.phase!=",
    "a=b,c",
    "((",
    "%ff%fe",
    "x" * 5000,
    "\u00e9",
    "Foreground",
    "Orphan",
)
_PATHS = (
    f"/api/v1/namespaces/{NAMESPACE}/configmaps",
    f"/api/v1/namespaces/{NAMESPACE}/configmaps/cm",
    f"/api/v1/namespaces/{NAMESPACE}/pods",
    f"/api/v1/namespaces/{NAMESPACE}/pods/p/status",
    f"/api/v1/namespaces/{NAMESPACE}/secrets",
    f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments",
    f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/d/scale",
    "/api/v1/namespaces",
    "/api/v1/nodes",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/default/token",
    f"/api/v1/namespaces/{NAMESPACE}/pods/p/eviction",
    f"/api/v1/namespaces/{NAMESPACE}/services/s/proxy/x",
)
_ODD_PATHS = (
    "/",
    "//",
    "/api/v1/../../etc/passwd",
    "/api/v1/namespaces/%00",
    "/api/v1/namespaces/" + "a" * 5000,
    "/apis/%ff/v1",
    "/api/v1/namespaces/fuzz/configmaps/%2e%2e",
    "/api/v1/namespaces//configmaps",
    "/apis/apps",
    "/apis/apps/v9/deployments",
    "/api/v1/namespaces/fuzz/configmaps/cm/bogus/x/y",
    "/openapi/v3/apis/x",
    "/openapi/v2?x",
    "/metrics?%%%",
    "/healthz/../livez",
    "/api/v1/watch/pods",
    "/apis/a.b.c/v1/namespaces/fuzz/things",
    "/api/v1/namespaces/fuzz/pods/p/log?tailLines=-5",
    "/api/v1/namespaces/fuzz/pods/p/exec?command=ls",
    "/version?" + "a=b&" * 500,
)
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "FOO", "CONNECT")


@dataclass
class Case:
    kind: str  # the generator that made it (for the per-class figures)
    method: str
    target: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    identity: str = "admin"  # admin | anonymous | bad-token
    mode: str = "request"  # request | slow | watch
    declared_length: int | None = None  # a Content-Length other than len(body)


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))] if data else data


def _flip(rng: random.Random, data: bytes) -> bytes:
    raw = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if raw:
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw)


def _object(rng: random.Random, wrong_types: bool) -> dict[str, object]:
    """A ConfigMap with odd values; ``wrong_types``: also values of the wrong JSON type
    (a number for a name, a list for ``data``)."""
    obj: dict[str, object] = json.loads(json.dumps(_CONFIGMAP))
    meta = obj["metadata"]
    assert isinstance(meta, dict)
    typed = not wrong_types
    meta["name"] = rng.choice(
        ["cm", "", "A_B", "x" * 300, "\u00e9"] + ([] if typed else [None, 5, [], {"a": 1}])
    )
    if rng.random() < 0.5:
        obj["data"] = rng.choice(
            [{"": "v"}, {"k" * 300: "v"}, {"a/b": "v"}, {}]
            + ([] if typed else [None, 5, "s", [1], {"k": 1}, {"k": None}])
        )
    if rng.random() < 0.3:
        obj[rng.choice(["kind", "apiVersion"])] = rng.choice(
            ["", "Pod", "v9"] + ([] if typed else [None, 7, {"x": 1}])
        )
    if rng.random() < 0.3 and wrong_types:
        meta[
            rng.choice(
                [
                    "labels",
                    "annotations",
                    "resourceVersion",
                    "uid",
                    "finalizers",
                    "managedFields",
                    "creationTimestamp",
                    "generateName",
                    "ownerReferences",
                ]
            )
        ] = rng.choice(
            [None, 1, "x", [None], {"a": None}, {"a": "b" * 70}, [{"x": 1}], "2020-13-45T99:99:99Z"]
        )
    return obj


def _json_body(rng: random.Random, wrong_types: bool) -> tuple[str, bytes]:
    valid = json.dumps(_object(rng, wrong_types)).encode()
    choice = rng.randrange(9)
    if choice == 0:
        return "json-truncated", _truncate(rng, valid)
    if choice == 1:
        return "json-flipped", _flip(rng, valid)
    if choice == 2:
        depth = rng.choice([100, 1000, 9999, 10001, 50000, 200000])
        opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
        inner = opener * depth + b"1" + closer * depth
        if rng.random() < 0.5:
            inner = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d"},"x":' + inner + b"}"
        return "json-deep", inner
    if choice == 3:
        return "json-invalid-utf8", valid.replace(b'"b"', b'"\xff\xfe\xc3"').replace(b'"cm"', b'"c\xedm"')
    if choice == 4:
        size = rng.choice([100_000, 1_000_000, 3_000_000])
        return "json-huge-string", valid[:-1] + b',"x":"' + b"a" * size + b'"}'
    if choice == 5:
        return "json-numbers", rng.choice(
            [
                b"1e999999",
                b"-0",
                b"123456789012345678901234567890",
                b'{"metadata":{"generation":1e400}}',
                b'{"a":1,"a":2}',
                b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n",'
                b'"generation":99999999999999999999}}',
            ]
        )
    if choice == 6:
        return "json-escapes", rng.choice(
            [
                b'{"a":"\\ud800"}',
                b'{"a":"\\u00"}',
                b'"\\',
                b"\x00\x00",
                b"\xef\xbb\xbf{}",
                b'{"metadata":{"name":"\\u0000"}}',
                b"nul",
                b"[" * 3 + b"]" * 5,
                b"{" * 5,
            ]
        )
    if choice == 7:
        keys = rng.choice([10_000, 100_000])
        return "json-wide", b"{" + b",".join(b'"k%d":1' % i for i in range(keys)) + b"}"
    return "json-mutated", valid


def _yaml_body(rng: random.Random, wrong_types: bool) -> tuple[str, bytes]:
    choice = rng.randrange(6)
    if choice == 0:
        lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
        for level in range(1, rng.choice([6, 9, 12])):
            prev = chr(ord("a") + level - 1)
            lines.append(f"{chr(ord('a') + level)}: &{chr(ord('a') + level)} [{','.join(['*' + prev] * 9)}]")
        return "yaml-anchor-bomb", ("\n".join(lines) + "\n").encode()
    if choice == 1:
        text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  a: b\n"
        return "yaml-truncated", _truncate(rng, text.encode())
    if choice == 2:
        depth = rng.choice([100, 1000, 10001, 100000])
        return "yaml-deep", b"[" * depth + b"]" * depth
    if choice == 3:
        return "yaml-tags", rng.choice(
            [
                b"!!python/object/apply:os.system ['true']",
                b"a: !!binary ~~~",
                b"a: !custom x",
                b"%YAML 9.9\n---\na: 1",
                b"--- a\n--- b\n",
                b"a: 1\na: 2\n",
                b"? [a]\n: b\n",
                b"\t- x",
                b"a: *undefined",
            ]
        )
    if choice == 4:
        return "yaml-invalid-utf8", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \xff\xfe\n"
    return "yaml-flipped", _flip(rng, b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _protobuf_body(rng: random.Random, wrong_types: bool) -> tuple[str, bytes]:
    type_meta = b"\x0a\x02v1\x12\x09ConfigMap"
    obj = b"\x0a\x04\x0a\x02pb"  # ObjectMeta{name: pb}
    unknown = b"\x0a" + _varint(len(type_meta)) + type_meta + b"\x12" + _varint(len(obj)) + obj
    valid = b"k8s\x00" + unknown
    choice = rng.randrange(6)
    if choice == 0:
        return "protobuf-truncated", _truncate(rng, valid)
    if choice == 1:
        return "protobuf-garbage", b"k8s\x00" + rng.randbytes(rng.randrange(1, 200))
    if choice == 2:
        return "protobuf-flipped", _flip(rng, valid)
    if choice == 3:  # a length prefix far past the end of the body
        return "protobuf-overlong", b"k8s\x00\x0a" + _varint(rng.choice([2**31, 2**63 - 1, 10**6])) + b"x"
    if choice == 4:  # deeply nested length-delimited fields
        inner = b""
        for _ in range(rng.choice([100, 1000, 5000])):
            inner = b"\x12" + _varint(len(inner)) + inner
        return "protobuf-deep", b"k8s\x00" + inner
    return "protobuf-no-magic", rng.choice([b"", b"k8s", b"k8s\x01" + unknown, unknown, b"\x00" * 16])


def _body_case(rng: random.Random, wrong_types: bool) -> Case:
    make: Callable[[random.Random, bool], tuple[str, bytes]] = rng.choice(
        [_json_body, _yaml_body, _protobuf_body]
    )
    kind, body = make(rng, wrong_types)
    natural = {
        "json": "application/json",
        "yaml": "application/yaml",
        "protobuf": "application/vnd.kubernetes.protobuf",
    }[kind.split("-")[0]]
    content_type = natural if rng.random() < 0.7 else rng.choice(_CONTENT_TYPES)
    method = rng.choice(["POST", "POST", "PUT", "PATCH"])
    path = _PATHS[0] if method == "POST" else _PATHS[1]
    if rng.random() < 0.2:
        path = rng.choice(_PATHS)
    headers = [("Content-Type", content_type)] if content_type or rng.random() < 0.5 else []
    return Case(kind, method, _query(rng, path, 0.3), headers, body)


def _patch_case(rng: random.Random, wrong_types: bool) -> Case:
    patch_type = rng.choice(_PATCH_TYPES + ("application/json", "text/plain", ""))
    body = rng.choice(
        [
            b'[{"op":"add","path":"/data/x","value":"y"}]',
            b'[{"op":"bogus","path":"/data"}]',
            b'[{"op":"remove","path":"/nope/0/1"}]',
            b'[{"op":"move","from":"/data","path":"/data/x"}]',
            b'[{"op":"copy","from":"/metadata","path":"/metadata/x/y"}]',
            b'[{"op":"test","path":"~2","value":1}]',
            b'[{"op":"add","path":"/data/-","value":1}]',
            b'[{"op":"add","path":"/metadata/finalizers/99","value":"x"}]',
            b'[{"op":"replace","path":"","value":[]}]',
            b'[{"path":"/a"}]',
            b"[1,2]",
            b'{"op":"add"}',
            b"null",
            b'{"data":null}',
            b'{"metadata":{"name":"other"}}',
            b'{"metadata":{"$patch":"delete"}}',
            b'{"$patch":"replace"}',
            b'{"$setElementOrder/finalizers":[1]}',
            b'{"metadata":{"$deleteFromPrimitiveList/finalizers":7}}',
            b'{"$retainKeys":["x"]}',
            b'{"metadata":{"ownerReferences":[{"$patch":"merge"}]}}',
            b'"str"',
            b"1",
            b"apiVersion: v1\nkind: ConfigMap\n",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n",
            b'[{"op":"add","path":"/data/x","value":"' + b"a" * 10000 + b'"}]' * 1,
            b"[" + b'{"op":"add","path":"/data/k","value":"v"},' * 5000 + b"{}]",
        ]
    )
    if rng.random() < 0.3:
        body = _flip(rng, body) if rng.random() < 0.5 else _truncate(rng, body)
    path = rng.choice([_PATHS[1], _PATHS[1], _PATHS[3], _PATHS[6], f"/api/v1/namespaces/{NAMESPACE}"])
    headers = [("Content-Type", patch_type)] if patch_type else []
    query = rng.choice(["", "?fieldManager=fz", "?force=true", "?fieldManager=" + "m" * 200, "?force=maybe"])
    return Case("patch", "PATCH", path + query, headers, body)


def _query(rng: random.Random, path: str, odds: float) -> str:
    if rng.random() >= odds:
        return path
    pairs = [
        f"{rng.choice(_QUERY_KEYS)}={quote(rng.choice(_QUERY_VALUES), safe='%')}"
        for _ in range(rng.randint(1, 4))
    ]
    return path + "?" + "&".join(pairs)


def _read_case(rng: random.Random, wrong_types: bool) -> Case:
    method = rng.choice(["GET", "GET", "DELETE", "HEAD"] + list(_METHODS))
    path = rng.choice(_PATHS + _ODD_PATHS)
    return Case("query", method, _query(rng, path, 0.9))


def _header_case(rng: random.Random, wrong_types: bool) -> Case:
    if rng.random() < 0.5:
        headers = [(f"X-Flood-{i}", "v" * rng.choice([1, 100])) for i in range(rng.choice([100, 500, 5000]))]
        return Case("header-flood", "GET", _PATHS[0], headers)
    name = rng.choice(["X-Big", "Accept", "Content-Type", "Impersonate-User", "Authorization", "User-Agent"])
    return Case("header-huge", "GET", _PATHS[0], [(name, "a" * rng.choice([8_000, 100_000, 1_000_000]))])


def _accept_case(rng: random.Random, wrong_types: bool) -> Case:
    accept = rng.choice(
        [
            "application/json;as=Table;v=v1;g=meta.k8s.io",
            "application/json;as=Table;v=v9;g=x",
            "\x7f\x01",
            "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
            "application/vnd.kubernetes.protobuf",
            "application/json;stream=watch",
            "text/html",
            "application/json;q=abc",
            ";;;",
            "*/*;q=0",
            "application/json, application/yaml;q=0.5",
            "application/yaml;as=Table;g=meta.k8s.io;v=v1",
            "application/vnd.kubernetes.protobuf;stream=watch",
            "application/" + "x" * 1000,
        ]
    )
    return Case("accept", "GET", _query(rng, rng.choice(_PATHS[:3] + _PATHS[7:9]), 0.3), [("Accept", accept)])


def _auth_case(rng: random.Random, wrong_types: bool) -> Case:
    case = _read_case(rng, wrong_types) if rng.random() < 0.5 else _body_case(rng, wrong_types)
    case.identity = rng.choice(["anonymous", "bad-token"])
    case.kind = "auth-" + case.identity
    if case.identity == "bad-token" and rng.random() < 0.3:
        case.headers.append(
            (
                "Authorization",
                rng.choice(["Bearer", "Basic abc", "Bearer " + "x" * 9000, "Bearer a.b.c", "Bearer \x01"]),
            )
        )
    return case


def _oversize_case(rng: random.Random, wrong_types: bool) -> Case:
    body = b'{"a":"' + b"a" * 64 + b'"}'
    return Case(
        "body-too-large",
        rng.choice(["POST", "PUT"]),
        _PATHS[0],
        [("Content-Type", "application/json")],
        body,
        declared_length=_BODY_LIMIT + rng.choice([1, 10**6]),
    )


def _slow_case(rng: random.Random, wrong_types: bool) -> Case:
    body = json.dumps(_CONFIGMAP).encode()
    return Case("slow-client", "POST", _PATHS[0], [("Content-Type", "application/json")], body, mode="slow")


def _watch_case(rng: random.Random, wrong_types: bool) -> Case:
    path = (
        rng.choice(_PATHS[:3] + _PATHS[7:9])
        + "?watch=1"
        + rng.choice(["", "&resourceVersion=0", "&allowWatchBookmarks=true"])
    )
    return Case("watch-storm", "GET", path, mode="watch")


_WEIGHTED: tuple[tuple[Callable[[random.Random, bool], Case], int], ...] = (
    (_body_case, 40),
    (_patch_case, 15),
    (_read_case, 20),
    (_accept_case, 6),
    (_auth_case, 8),
    (_header_case, 3),
    (_oversize_case, 2),
    (_slow_case, 1),
    (_watch_case, 5),
)


def cases(seed: int, wrong_types: bool = True) -> Iterator[Case]:
    """An endless, seed-determined stream of cases. ``wrong_types=False`` leaves out object
    fields of the wrong JSON type (refused at decoding since decision 0038)."""
    rng = random.Random(seed)
    makers = [maker for maker, _ in _WEIGHTED]
    weights = [weight for _, weight in _WEIGHTED]
    while True:
        yield rng.choices(makers, weights)[0](rng, wrong_types)
