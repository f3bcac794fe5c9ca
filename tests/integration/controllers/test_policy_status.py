"""ValidatingAdmissionPolicy status through a real API server and controller manager: a
policy with a typo'd field gets upstream's ``status.typeChecking`` warning (schemas read
from the server's /openapi/v3, the status applied as the controller's own ServiceAccount);
a fix bumps the generation and clears it; a wildcard policy is not checked (``{}``);
a paramKind of a custom resource is typed by the CRD's schema."""

from __future__ import annotations

from typing import Any

from kprov.cluster.client import ApiClient
from kprov.cluster.controllers.admission.policy_status import POLICIES
from tests.integration.controllers.hollow import wait_for

_CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _policy(name: str, expression: str, groups: list[str], **spec: Any) -> dict[str, Any]:
    rule = {
        "apiGroups": groups,
        "apiVersions": ["v1"],
        "operations": ["CREATE"],
        "resources": ["deployments"],
    }
    return {
        "metadata": {"name": name},
        "spec": {
            "matchConstraints": {"resourceRules": [rule]},
            "validations": [{"expression": expression}],
            **spec,
        },
    }


async def _status(admin: ApiClient, name: str, generation: int) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        status = (await admin.get(POLICIES, name)).get("status") or {}
        return status if status.get("observedGeneration") == generation else None

    return await wait_for(check, 20, what=f"{name} observed generation {generation}")  # type: ignore[no-any-return]


async def test_type_checking_in_policy_status(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        typo = await admin.create(POLICIES, _policy("typo-replicas", "object.replicas > 1", ["apps"]))
        status = await _status(admin, "typo-replicas", 1)
        assert status["typeChecking"] == {
            "expressionWarnings": [
                {
                    "fieldRef": "spec.validations[0].expression",
                    "warning": "apps/v1, Kind=Deployment: ERROR: <input>:1:7: undefined field 'replicas'\n"
                    " | object.replicas > 1\n"
                    " | ......^\n",
                }
            ]
        }
        fixed = {
            **typo,
            "spec": {**typo["spec"], "validations": [{"expression": "object.spec.replicas > 1"}]},
        }
        fixed["metadata"] = {
            "name": "typo-replicas",
            "resourceVersion": (await admin.get(POLICIES, "typo-replicas"))["metadata"]["resourceVersion"],
        }
        await admin.update(POLICIES, fixed)
        assert (await _status(admin, "typo-replicas", 2))["typeChecking"] == {}

        await admin.create(POLICIES, _policy("wildcard", "object.replicas > 1", ["*"]))
        assert (await _status(admin, "wildcard", 1))["typeChecking"] == {}

        await admin.request(
            "POST",
            _CRDS,
            body={
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": "limits.policy.example.com"},
                "spec": {
                    "group": "policy.example.com",
                    "scope": "Cluster",
                    "names": {
                        "plural": "limits",
                        "singular": "limit",
                        "kind": "Limit",
                        "listKind": "LimitList",
                    },
                    "versions": [
                        {
                            "name": "v1",
                            "served": True,
                            "storage": True,
                            "schema": {
                                "openAPIV3Schema": {
                                    "type": "object",
                                    "properties": {
                                        "spec": {"type": "object", "properties": {"max": {"type": "integer"}}}
                                    },
                                }
                            },
                        }
                    ],
                },
            },
        )

        async def served() -> bool:
            listed = await admin.request("GET", "/apis/policy.example.com/v1")
            return any(r["name"] == "limits" for r in listed.get("resources") or ())

        await wait_for(served, 20, what="the CRD served")
        await admin.create(
            POLICIES,
            _policy(
                "param-typo",
                "object.spec.replicas <= params.spec.maximum",
                ["apps"],
                paramKind={"apiVersion": "policy.example.com/v1", "kind": "Limit"},
            ),
        )
        warnings = (await _status(admin, "param-typo", 1))["typeChecking"]["expressionWarnings"]
        assert [w["fieldRef"] for w in warnings] == ["spec.validations[0].expression"]
        assert "ERROR: <input>:1:36: undefined field 'maximum'" in warnings[0]["warning"]

        confused = _policy("crd-confused", "object.spec.max > '1'", ["policy.example.com"])
        confused["spec"]["matchConstraints"]["resourceRules"][0]["resources"] = ["limits"]
        confused["spec"]["validations"].append({"expression": "object.spec.maxRetries < 10"})
        await admin.create(POLICIES, confused)
        warnings = (await _status(admin, "crd-confused", 1))["typeChecking"]["expressionWarnings"]
        assert [w["fieldRef"] for w in warnings] == [
            "spec.validations[0].expression",
            "spec.validations[1].expression",
        ]
        assert warnings[0]["warning"].startswith(
            "policy.example.com/v1, Kind=Limit: ERROR: <input>:1:17: "
            "found no matching overload for '_>_' applied to '(int, string)'"
        )
        assert "undefined field 'maxRetries'" in warnings[1]["warning"]
