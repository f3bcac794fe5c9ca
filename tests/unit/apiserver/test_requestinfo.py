"""URL -> RequestInfo, and Go-style booleans."""

from __future__ import annotations

import pytest

from kprov.cluster.apiserver.request.requestinfo import parse_bool, parse_request_info


@pytest.mark.parametrize(
    ("method", "path", "watch", "expected"),
    [
        ("GET", "/api/v1/namespaces/default/pods", False, ("", "v1", "pods", "default", "", "", "list")),
        ("GET", "/api/v1/namespaces/default/pods", True, ("", "v1", "pods", "default", "", "", "watch")),
        ("GET", "/api/v1/pods", False, ("", "v1", "pods", "", "", "", "list")),
        (
            "PATCH",
            "/api/v1/namespaces/ns/pods/web/status",
            False,
            ("", "v1", "pods", "ns", "web", "status", "patch"),
        ),
        ("GET", "/api/v1/namespaces/ns", False, ("", "v1", "namespaces", "", "ns", "", "get")),
        (
            "PUT",
            "/api/v1/namespaces/ns/finalize",
            False,
            ("", "v1", "namespaces", "", "ns", "finalize", "update"),
        ),
        (
            "DELETE",
            "/apis/apps/v1/namespaces/a/deployments",
            False,
            ("apps", "v1", "deployments", "a", "", "", "deletecollection"),
        ),
        (
            "POST",
            "/apis/apps/v1/namespaces/a/deployments",
            False,
            ("apps", "v1", "deployments", "a", "", "", "create"),
        ),
        ("GET", "/api/v1/nodes/n1", True, ("", "v1", "nodes", "", "n1", "", "watch")),
        # a HEAD never streams: as a watch it held its keep-alive connection (fuzz timeouts)
        ("HEAD", "/api/v1/namespaces/f/pods/p/status", True, ("", "v1", "pods", "f", "p", "status", "get")),
        ("HEAD", "/api/v1/namespaces/f/pods", True, ("", "v1", "pods", "f", "", "", "list")),
    ],
)
def test_paths(method, path, watch, expected):
    info = parse_request_info(method, path, watch)
    assert info is not None
    assert (
        info.group,
        info.version,
        info.resource,
        info.namespace,
        info.name,
        info.subresource,
        info.verb,
    ) == expected


@pytest.mark.parametrize("path", ["/api", "/apis", "/api/v1", "/apis/apps", "/healthz", "/openapi/v3"])
def test_non_resource_paths(path):
    assert parse_request_info("GET", path, False) is None


def test_parse_bool_like_go():
    for text in ("1", "t", "T", "TRUE", "true", "True"):
        assert parse_bool(text) is True
    for text in ("0", "f", "F", "FALSE", "false", "False"):
        assert parse_bool(text, default=True) is False
    assert parse_bool("yes") is False and parse_bool(None, default=True) is True
