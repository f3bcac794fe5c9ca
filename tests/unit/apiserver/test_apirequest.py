"""The front's decoded request value: one HTTP request in, an immutable ApiRequest out."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from kprov.cluster import apiserver
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.apirequest import ApiRequest, Connection, decode
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.wire import Request, StreamingReply


def _lean(method: str, path: str, query: str, body: bytes = b"", **headers: str) -> Request:
    connection = SimpleNamespace(transport=None, remote="10.0.0.9")
    head = CIMultiDictProxy(CIMultiDict(headers))
    return Request(connection, method, path, query, (1, 1), head, body, True)  # type: ignore[arg-type]


def test_a_lean_request_decodes_with_its_info_query_headers_and_body() -> None:
    raw = _lean("POST", "/api/v1/namespaces/ns/pods", "dryRun=All&fieldManager=me", b"{}",
                **{"Content-Type": "application/json", "Content-Length": "2"})
    request = decode(raw)
    assert request.info == RequestInfo("", "v1", "pods", "ns", "", "", "create")
    assert (request.method, request.path, request.query_string) == ("POST", "/api/v1/namespaces/ns/pods",
                                                                     "dryRun=All&fieldManager=me")
    assert request.query["fieldManager"] == "me"
    assert request.headers["content-type"] == "application/json"
    assert request.content_length == 2
    assert request.body == b"{}"
    assert (request.remote, request.tls, request.user) == ("10.0.0.9", None, None)


def test_the_watch_parameter_makes_a_watch_and_a_non_resource_path_has_no_info() -> None:
    assert decode(_lean("GET", "/api/v1/pods", "watch=true")).info.verb == "watch"  # type: ignore[union-attr]
    assert decode(_lean("GET", "/healthz", "")).info is None


def test_the_value_is_immutable_and_its_query_and_headers_read_only() -> None:
    request = decode(_lean("GET", "/api/v1/pods", "limit=5", Accept="application/json"))
    with pytest.raises(AttributeError):
        request.path = "/elsewhere"  # type: ignore[misc]
    with pytest.raises(TypeError):
        request.query["limit"] = "6"  # type: ignore[index]
    with pytest.raises(TypeError):
        request.headers["Accept"] = "text/html"  # type: ignore[index]


def test_the_user_and_body_are_added_as_new_values() -> None:
    request = decode(_lean("GET", "/api/v1/pods", ""))
    user = UserInfo("alice", ("system:authenticated",))
    known = request.with_user(user).with_body(b"x")
    assert (known.user, known.body) == (user, b"x")
    assert (request.user, request.body) == (None, b"")
    assert isinstance(known, ApiRequest)


def test_the_connection_streams_on_the_lean_front_and_refuses_it_a_websocket() -> None:
    connection = Connection(_lean("GET", "/api/v1/namespaces/ns/pods/p/exec", ""))
    assert connection.lean
    assert isinstance(connection.stream_reply({"Content-Type": "text/plain"}), StreamingReply)
    with pytest.raises(TypeError):
        connection.websocket()


def test_only_the_front_names_the_http_request() -> None:
    """Below the HTTP layer (authn, authz, admission, handlers, aggregation) the decoded
    value is read; the two stacks' request union stays where it is defined (the wire types),
    decoded (the request value) and dispatched (the front's app and its routes)."""
    root = Path(apiserver.__file__).parent
    naming = sorted(
        str(path.relative_to(root)) for path in root.rglob("*.py") if "AnyRequest" in path.read_text()
    )
    assert naming == ["front/app.py", "front/routes.py", "request/apirequest.py", "request/wire.py"]


def _functions(root: Path) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((str(path.relative_to(root)), node))
    return found


def test_no_function_takes_a_user_or_body_beside_the_request_value() -> None:
    """The value carries the body and the authenticated user: a ``user`` or ``body``
    parameter beside it would be a second source that could disagree."""
    root = Path(apiserver.__file__).parent
    doubled = []
    for module, function in _functions(root):
        params = function.args.posonlyargs + function.args.args + function.args.kwonlyargs
        annotations = {p.arg: ast.unparse(p.annotation) if p.annotation else "" for p in params}
        if any("ApiRequest" in a for a in annotations.values()) and {"user", "body"} & annotations.keys():
            doubled.append(f"{module}: {function.name}")
    assert doubled == []


def test_the_user_travels_in_the_value_not_in_a_context_variable() -> None:
    """Only what is collected across deep call chains - warnings (request/warning.py) and the
    seconds a request waited in a queue or a webhook (request/latency.py) - are context
    variables; the user reaches handlers, admission and the audit record in the value."""
    root = Path(apiserver.__file__).parent
    declaring = sorted(
        str(path.relative_to(root)) for path in root.rglob("*.py") if "ContextVar(" in path.read_text()
    )
    assert declaring == ["request/latency.py", "request/warning.py"]
