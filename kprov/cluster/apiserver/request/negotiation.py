"""Content negotiation: decoding request bodies and choosing the response form.

Bodies: no Content-Type or ``application/json`` -> JSON; ``application/yaml`` -> YAML;
``application/vnd.kubernetes.protobuf`` -> the protobuf envelope (kprov.cluster.api);
anything else -> 415. Malformed bodies are a 400 Status naming the problem.
Responses: protobuf when the Accept header prefers ``application/vnd.kubernetes.protobuf``
(client-go's default, the conformance suite's) and the kind has protobuf field numbers;
otherwise JSON (``application/json``) — client-go decodes by the response's Content-Type, so
JSON is always understood. Error Statuses stay JSON. A Table is returned when the Accept
header asks for ``as=Table`` (what kubectl's human-readable ``get`` does).
A JSON reply body is what Go's ``json.Encoder`` writes (kube-apiserver's serializer): ``<``,
``>``, ``&``, U+2028 and U+2029 escaped, and a newline after the value (``go_body``). As
kube-apiserver, a request with ``?pretty=true``, or from curl, Wget or a browser (unless
``?pretty=false``), gets ``json.MarshalIndent``'s form instead: two-space indents, no
trailing newline (``prettified``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import yaml
from aiohttp import web

from kprov.cluster.api.errors import UnsupportedMediaType
from kprov.cluster.api.wire.bounded_decode import BodyTooDeep, check_depth, load_yaml
from kprov.cluster.api.wire.protobuf_decode import decode_object
from kprov.cluster.api.wire.protobuf_encode import encodable, encode_object
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.status import bad_request

__all__ = [
    "JSON",
    "PATCH_TYPES",
    "PROTOBUF",
    "decode_body",
    "go_body",
    "go_list_body",
    "json_bytes",
    "json_response",
    "media_type",
    "object_response",
    "preferred_media_types",
    "prettified",
    "wants_pretty",
    "wants_protobuf",
    "wants_table",
]

JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


def media_type(request: ApiRequest) -> str:
    raw = request.headers.get("Content-Type", "")
    return raw.split(";", 1)[0].strip().lower()


def json_bytes(obj: Any) -> bytes:
    return orjson.dumps(obj)


_GO_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"))
# U+2028 and U+2029 in UTF-8 both start with the byte E2: one single-byte search (memchr)
# rules both out for nearly every body, where a search for each three-byte sequence cost
# about as much as the encoding itself
_GO_LINE_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


def _go_escaped(encoded: bytes) -> bytes:
    for char, escaped in _GO_ESCAPES:
        if char in encoded:
            encoded = encoded.replace(char, escaped)
    if b"\xe2" in encoded:
        for char, escaped in _GO_LINE_SEPARATORS:
            if char in encoded:
                encoded = encoded.replace(char, escaped)
    return encoded


def go_body(encoded: bytes) -> bytes:
    """Compact JSON bytes as Go's ``json.Encoder.Encode`` writes the same value: the
    HTML-significant characters escaped (they occur only inside strings, so a plain
    replacement is exact) and a trailing newline."""
    return _go_escaped(encoded) + b"\n"


def go_list_body(head: bytes, items: Iterable[bytes]) -> bytes:
    """:func:`go_body` of a list whose items are already encoded: ``head`` (the list without
    its items, compact JSON) with ``"items":[...]`` spliced in, built by one join. A list of
    tens of thousands of objects is hundreds of MB: each concatenation of the whole was
    another copy (and its fresh pages' faults), several times the cost of the join."""
    parts = [head[:-1], b',"items":[']
    for item in items:
        parts.append(item)
        parts.append(b",")
    if parts[-1] == b",":
        parts.pop()
    parts.append(b"]}\n")
    return _go_escaped(b"".join(parts))


_PRETTY_AGENTS = ("curl", "Wget", "Mozilla/5.0")


def wants_pretty(request: ApiRequest) -> bool:
    """kube-apiserver's isPrettyPrint: ``?pretty=<bool>`` decides when given, else the
    User-Agent of a command-line HTTP tool or a browser."""
    if "pretty" in request.query_string:
        given = request.query.get("pretty", "")
        if given:
            return given in ("1", "t", "T", "TRUE", "true", "True")  # (Go's ParseBool)
    return request.headers.get("User-Agent", "").startswith(_PRETTY_AGENTS)


def prettified(reply: Any) -> Any:
    """A JSON reply re-encoded as ``json.MarshalIndent(obj, "", "  ")`` writes it."""
    if not isinstance(reply, web.Response) or reply.content_type != JSON or not isinstance(reply.body, bytes):
        return reply
    try:
        value = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        return reply
    reply.body = _go_escaped(orjson.dumps(value, option=orjson.OPT_INDENT_2))
    return reply


def _valid_utf8(value: Any) -> Any:
    """``value`` with every string's undecodable bytes (kept as surrogates from a request's
    path or headers) written as U+FFFD, as Go's encoding/json writes invalid UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_valid_utf8(k): _valid_utf8(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_valid_utf8(item) for item in value]
    return value


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    try:
        encoded = orjson.dumps(obj)
    except TypeError as exc:
        if "surrogates" not in str(exc):
            raise
        encoded = orjson.dumps(_valid_utf8(obj))  # (a message echoing a path that is not UTF-8)
    body = go_body(encoded)
    return web.Response(body=body, status=status, content_type=JSON, headers=headers)


def preferred_media_types(accept: str) -> list[str]:
    """The media ranges of an Accept header, most preferred first: by descending q, then in
    the order given; ranges with q=0 (not acceptable) left out; lower case."""
    ranges: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept.split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranges.append((-quality, index, media.lower()))
    return [media for _quality, _index, media in sorted(ranges)]


def wants_protobuf(request: ApiRequest) -> bool:
    """Whether the most preferred media type the server can answer with is protobuf."""
    accept = request.headers.get("Accept", "")
    if "protobuf" not in accept:
        return False
    for media in preferred_media_types(accept):
        if media == PROTOBUF:
            return True
        if media in (JSON, "application/*", "*/*", "application/yaml"):
            return False
    return False


def object_response(request: ApiRequest, obj: dict[str, Any], status: int = 200,
                    headers: dict[str, str] | None = None) -> web.Response:
    """One object (or list) in the form the client prefers."""
    if wants_protobuf(request) and encodable(str(obj.get("apiVersion", "")), str(obj.get("kind", ""))):
        return web.Response(body=encode_object(obj), status=status, content_type=PROTOBUF, headers=headers)
    return json_response(obj, status, headers)


def decode_body(body: bytes, content_type: str) -> Any:
    """Decode a create/update body by its media type."""
    if content_type in ("", JSON, "*/*", "text/plain"):
        try:
            value = orjson.loads(body)
            check_depth(value, body)
            return value
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"the request body is not valid JSON: {exc}") from None
    if content_type in ("application/yaml", "application/x-yaml", "text/yaml"):
        try:
            value = load_yaml(body)
            check_depth(value, body)
            return value
        except (yaml.YAMLError, BodyTooDeep) as exc:
            raise bad_request(f"the request body is not valid YAML: {exc}") from None
    if content_type == PROTOBUF:
        try:
            return dict(decode_object(body))
        except UnicodeDecodeError as exc:  # a string field that is not UTF-8
            raise bad_request(f"the request body is not a valid protobuf object: {exc}") from None
        except (AttributeError, TypeError):  # a number where the schema wants bytes, or the reverse
            wrong = "the request body is not a valid protobuf object: a field has the wrong wire type"
            raise bad_request(wrong) from None
    raise UnsupportedMediaType(
        f'the body of the request was in an unknown format "{content_type}" - accepted media types include: '
        "application/json, application/yaml, application/vnd.kubernetes.protobuf"
    )


def wants_table(request: ApiRequest) -> bool:
    accept = request.headers.get("Accept", "")
    if "Table" not in accept:  # every reply asks; nearly all Accept headers are plain
        return False
    for part in accept.split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[-1].strip() for p in part.split(";")[1:]}
        if params.get("as") == "Table" and params.get("g", "meta.k8s.io") == "meta.k8s.io":
            return True
    return False
