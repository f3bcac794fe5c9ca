"""Admission webhook dispatch logic with the HTTP call replaced: what a CONNECT review
carries, how a timeout and a denial are worded, and that a custom object a webhook patched
is pruned by its schema again."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kprov.cluster.api.crd.definition import accepted_status, default_crd, infos_from_crd
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.apiserver.admission import webhooks
from kprov.cluster.apiserver.attributes import AdmissionAttributes
from kprov.cluster.apiserver.handlers.kubelet_proxy import connect_options
from kprov.cluster.apiserver.request.status import ApiError
from kprov.cluster.storage import scope_prefix


def _creating(info: Any, obj: Any) -> AdmissionAttributes:
    return AdmissionAttributes(info, "CREATE", obj, None, None)


def _connecting(info: Any, options: Any, subresource: str, target: tuple[str, str]) -> AdmissionAttributes:
    return AdmissionAttributes(info, "CONNECT", options, None, None, subresource, target=target)



class _Query(dict):  # type: ignore[type-arg]
    def getall(self, key: str, default: Any = None) -> list[str]:
        value = self.get(key)
        return [value] if value is not None else list(default or [])


class _Cache:
    def __init__(self, configs: dict[str, list[dict[str, Any]]], objects: dict[str, Any]) -> None:
        self.configs, self.objects = configs, objects

    def scope(self, prefix: str) -> list[dict[str, Any]]:
        return self.configs.get(prefix, [])

    def get(self, key: str) -> Any:
        return self.objects.get(key)


class _Ctx:
    def __init__(self, cache: _Cache) -> None:
        self.cache = cache


def _hook(name: str, resources: list[str], operations: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "clientConfig": {"url": "https://hooks.example/x"},
        "rules": [
            {"operations": operations, "apiGroups": ["*"], "apiVersions": ["*"], "resources": resources}
        ],
        "namespaceSelector": {"matchLabels": {"team": "a"}},
        "sideEffects": "None",
        **extra,
    }


def _ctx(kind: str, *hooks: dict[str, Any]) -> _Ctx:
    prefix = scope_prefix("admissionregistration.k8s.io", f"{kind}webhookconfigurations")
    namespace = {"metadata": {"name": "ns1", "labels": {"team": "a"}}}
    return _Ctx(
        _Cache(
            {prefix: [{"metadata": {"name": "c"}, "webhooks": list(hooks)}]},
            {"/registry/namespaces/ns1": namespace},
        )
    )


def _answer(allowed: bool, **response: Any):  # type: ignore[no-untyped-def]
    seen: list[dict[str, Any]] = []

    async def post(ctx: Any, hook: Any, review: dict[str, Any], seconds: int) -> Any:
        seen.append(review)
        return {"response": {"uid": review["request"]["uid"], "allowed": allowed, **response}}

    return post, seen


def test_connect_options_from_the_query():
    attach = connect_options("attach", _Query(stdin="true", stdout="1", tty="false", container="c1"))
    assert attach == {
        "kind": "PodAttachOptions",
        "apiVersion": "v1",
        "stdin": True,
        "stdout": True,
        "container": "c1",
    }
    assert connect_options("portforward", _Query(ports="80,8080"))["ports"] == [80, 8080]


async def test_connect_review_names_the_pod_and_a_denial_is_worded_as_upstream(monkeypatch):
    pods = REGISTRY.get("", "v1", "pods")
    assert pods is not None
    post, seen = _answer(False, status={"message": "attaching to pod 'p' is not allowed"})
    monkeypatch.setattr(webhooks, "_post", post)
    ctx = _ctx("validating", _hook("deny-attach.k8s.io", ["pods/attach"], ["CONNECT"]))
    options = connect_options("attach", _Query(stdin="true", container="c1"))
    with pytest.raises(ApiError) as denied:
        await webhooks.connect(
            ctx, _connecting(pods, options, "attach", ("ns1", "p"))
        )  # type: ignore[arg-type]
    assert denied.value.code == 400
    assert denied.value.message == (
        "admission webhook \"deny-attach.k8s.io\" denied the request: attaching to pod 'p' is not allowed"
    )
    request = seen[0]["request"]
    assert (request["name"], request["namespace"], request["operation"]) == ("p", "ns1", "CONNECT")
    assert request["subResource"] == "attach" and request["object"]["stdin"] is True
    assert request["kind"] == {"group": "", "version": "v1", "kind": "PodAttachOptions"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    # a plain create of a pod does not match the attach rule
    seen.clear()
    pod = {"metadata": {"name": "p", "namespace": "ns1"}}
    await webhooks.validate(ctx, _creating(pods, pod))  # type: ignore[arg-type]
    assert seen == []


async def test_a_slow_webhook_fails_with_the_url_and_its_timeout(monkeypatch):
    async def slow(ctx: Any, hook: Any, review: Any, seconds: int) -> Any:
        raise TimeoutError

    monkeypatch.setattr(webhooks, "_post", slow)
    configmaps = REGISTRY.get("", "v1", "configmaps")
    hook = _hook("slow.k8s.io", ["configmaps"], ["CREATE"], timeoutSeconds=1)
    hook["clientConfig"] = {"service": {"namespace": "ns1", "name": "svc", "path": "/delay", "port": 8443}}
    cm = {"metadata": {"name": "x", "namespace": "ns1"}}
    with pytest.raises(ApiError) as failed:
        await webhooks.validate(
            _ctx("validating", hook), _creating(configmaps, cm)
        )  # type: ignore[arg-type]
    assert failed.value.code == 500
    assert failed.value.message == (
        'Internal error occurred: failed calling webhook "slow.k8s.io": failed to call webhook: '
        'Post "https://svc.ns1.svc:8443/delay?timeout=1s": context deadline exceeded'
    )
    hook["failurePolicy"] = "Ignore"
    await webhooks.validate(
        _ctx("validating", hook), _creating(configmaps, cm)
    )  # type: ignore[arg-type]


async def test_a_mutated_custom_object_is_pruned_by_its_schema(monkeypatch):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "data": {"type": "object", "properties": {"kept": {"type": "string"}}}
                            },
                        }
                    },
                }
            ],
        },
    }
    default_crd(crd)
    crd["status"] = accepted_status(crd, {}, "2026-01-01T00:00:00Z")
    info = infos_from_crd(crd)[0]
    patch = [
        {"op": "add", "path": "/data/kept", "value": "yes"},
        {"op": "add", "path": "/data/gone", "value": "x"},
    ]
    post, _ = _answer(
        True, patchType="JSONPatch", patch=base64.b64encode(json.dumps(patch).encode()).decode()
    )
    monkeypatch.setattr(webhooks, "_post", post)
    ctx = _ctx("mutating", _hook("mutate.k8s.io", ["widgets"], ["CREATE"]))
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "ns1"},
        "data": {},
    }
    mutated = await webhooks.mutate(ctx, _creating(info, obj))  # type: ignore[arg-type]
    assert mutated["data"] == {"kept": "yes"}


async def test_a_pod_a_webhook_patched_is_defaulted_again(monkeypatch):
    patch = [{"op": "add", "path": "/spec/initContainers", "value": [{"name": "added", "image": "busybox"}]}]
    encoded = base64.b64encode(json.dumps(patch).encode()).decode()
    post, _ = _answer(True, patchType="JSONPatch", patch=encoded)
    monkeypatch.setattr(webhooks, "_post", post)
    pods = REGISTRY.get("", "v1", "pods")
    ctx = _ctx("mutating", _hook("init.k8s.io", ["pods"], ["CREATE"]))
    pod = {
        "metadata": {"name": "p", "namespace": "ns1"},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
    }
    mutated = await webhooks.mutate(ctx, _creating(pods, pod))  # type: ignore[arg-type]
    assert mutated["spec"]["initContainers"][0]["terminationMessagePolicy"] == "File"
