"""ensure_crds never downgrades a CRD a user upgraded to a newer Gateway API bundle, and
ensure_gateway_class ships the class kprov without touching one the user wrote."""

from __future__ import annotations

import copy
from typing import Any

from kprov.cluster.client.errors import AlreadyExists
from kprov.cluster.ingress.gateway.crds import BUNDLE_LABEL, ensure_crds, ensure_gateway_class, gateway_crds


class _Store:
    """What ensure_crds and ensure_gateway_class call on an API client: create, get, update."""

    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        self.objects = objects
        self.updated: list[str] = []

    async def create(self, resource: Any, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        if name in self.objects:
            raise AlreadyExists(409, "AlreadyExists", f"{name} already exists")
        self.objects[name] = copy.deepcopy(body)
        return body

    async def get(self, resource: Any, name: str) -> dict[str, Any]:
        return copy.deepcopy(self.objects[name])

    async def update(self, resource: Any, body: dict[str, Any]) -> dict[str, Any]:
        self.objects[body["metadata"]["name"]] = body
        self.updated.append(body["metadata"]["name"])
        return body


def _stored(version: str) -> dict[str, dict[str, Any]]:
    crds = gateway_crds()
    for crd in crds:
        crd["metadata"]["labels"][BUNDLE_LABEL] = version
    return {crd["metadata"]["name"]: crd for crd in crds}


async def test_a_user_upgraded_bundle_is_left_and_an_older_one_upgraded() -> None:
    newer = _Store(_stored("v99.0.0"))
    await ensure_crds(newer)  # type: ignore[arg-type]
    assert newer.updated == []
    older = _Store(_stored("v0.1.0"))
    await ensure_crds(older)  # type: ignore[arg-type]
    ours = gateway_crds()[0]["metadata"]["labels"][BUNDLE_LABEL]
    assert len(older.updated) == 4
    assert {c["metadata"]["labels"][BUNDLE_LABEL] for c in older.objects.values()} == {ours}


async def test_the_class_kprov_is_shipped_and_a_users_class_kept() -> None:
    empty = _Store({})
    await ensure_gateway_class(empty, "kprov.io/gateway-controller")  # type: ignore[arg-type]
    assert empty.objects["kprov"]["spec"]["controllerName"] == "kprov.io/gateway-controller"
    users = {"kprov": {"metadata": {"name": "kprov"}, "spec": {"controllerName": "example.com/other"}}}
    kept = _Store(copy.deepcopy(users))
    await ensure_gateway_class(kept, "kprov.io/gateway-controller")  # type: ignore[arg-type]
    assert kept.objects == users
