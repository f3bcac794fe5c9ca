"""Kubernetes' authorizer library (kprov.cluster.api.cel.lib_authz) against a recording
decider: the expressions of upstream's cost_test.go TestAuthzLibrary evaluate, each check
reaches the decider with the right user, verb and attributes, and without a decider a
check is an errored decision rather than an allowed one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kprov.cluster.api.cel import lib_authz
from kprov.cluster.api.cel.environment import CompileError, environment

VARIABLES = {"authorizer": lib_authz.AUTHORIZER}
USER = {"username": "bob", "groups": ["devs"], "uid": "u1"}
REQUEST = {
    "group": "apps",
    "resource": "deployments",
    "subresource": "scale",
    "namespace": "ns",
    "name": "web",
}


def _run(text: str, calls: list[tuple[Any, ...]] | None = None, allow: str = "get") -> Any:
    def decide(
        user: Mapping[str, Any], verb: str, resource: Mapping[str, str] | None, path: str | None
    ) -> tuple[bool, str]:
        if calls is not None:
            calls.append((user["username"], tuple(user["groups"]), verb, resource, path))
        if verb == "explode":
            raise RuntimeError("webhook authorizer unreachable")
        return verb == allow, f"verb {verb}"

    value = lib_authz.authorizer_value(environment().messages, USER, REQUEST)
    with lib_authz.deciding(decide):
        return environment().compile(text, VARIABLES).evaluate({"authorizer": value})


@pytest.mark.parametrize(
    "text",
    [  # upstream's cost_test.go TestAuthzLibrary (fieldSelector/labelSelector: not in kprov)
        "authorizer.path('/healthz')",
        "authorizer.group('apps').resource('deployments').subresource('status').namespace('test').name('backend')",
        "authorizer.path('/healthz').check('get').allowed()",
        "authorizer.group('apps').resource('deployments').subresource('status').namespace('test')"
        ".name('backend').check('create').allowed()",
        "authorizer.group('apps').resource('deployments').subresource('status').namespace('test')"
        ".name('backend').check('create').errored()",
        "authorizer.group('apps').resource('deployments').subresource('status').namespace('test')"
        ".name('backend').check('create').error()",
    ],
)
def test_upstream_expressions_evaluate(text: str) -> None:
    _run(text)


def test_checks_reach_the_decider_with_the_users_attributes() -> None:
    calls: list[tuple[Any, ...]] = []
    assert _run(
        "authorizer.group('').resource('pods').namespace('a').name('p').check('get').allowed()", calls
    )
    assert not _run("authorizer.path('/metrics').check('post').allowed()", calls)
    assert _run("authorizer.requestResource.check('get').reason()", calls) == "verb get"
    assert _run("authorizer.serviceAccount('kube-system', 'sa').path('/x').check('get').allowed()", calls)
    pod = {"group": "", "resource": "pods", "subresource": "", "namespace": "a", "name": "p"}
    assert calls == [
        ("bob", ("devs",), "get", pod, None),
        ("bob", ("devs",), "post", None, "/metrics"),
        ("bob", ("devs",), "get", {**REQUEST}, None),
        (
            "system:serviceaccount:kube-system:sa",
            ("system:serviceaccounts", "system:serviceaccounts:kube-system"),
            "get",
            None,
            "/x",
        ),
    ]


def test_an_authorizer_failure_is_an_errored_decision() -> None:
    assert _run("authorizer.path('/x').check('explode').errored()")
    assert _run("authorizer.path('/x').check('explode').error()") == "webhook authorizer unreachable"
    assert not _run("authorizer.path('/x').check('explode').allowed()")


def test_without_a_decider_nothing_is_allowed() -> None:
    value = lib_authz.authorizer_value(environment().messages, USER, REQUEST)
    program = environment().compile("authorizer.path('/x').check('get')", VARIABLES)
    decision = environment().compile("authorizer.path('/x').check('get').errored()", VARIABLES)
    assert decision.evaluate({"authorizer": value}) is True
    assert program is not None


def test_the_checker_refuses_a_check_on_the_authorizer_itself() -> None:
    with pytest.raises(CompileError, match="found no matching overload for 'check'"):
        environment().compile("authorizer.check('get')", VARIABLES)
