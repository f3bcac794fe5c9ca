"""A DaemonSet's ControllerRevisions: made once per template, renumbered on roll back,
copies de-duplicated (pods relabelled), old ones pruned unless a pod still uses them."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from kprov.cluster.controllers.workloads.controller_history import new_revision
from kprov.cluster.controllers.workloads.daemonset_history import (
    HASH_LABEL,
    current_hash,
    sync_daemon_history,
)

Obj = dict[str, Any]


class FakeClient:
    def __init__(self) -> None:
        self.revisions: dict[str, Obj] = {}
        self.pod_patches: list[tuple[str, Obj]] = []

    async def create(self, _res: Any, body: Obj) -> Obj:
        self.revisions[body["metadata"]["name"]] = copy.deepcopy(body)
        return body

    async def update(self, _res: Any, body: Obj) -> Obj:
        self.revisions[body["metadata"]["name"]] = copy.deepcopy(body)
        return body

    async def delete(self, _res: Any, name: str, _ns: str) -> None:
        self.revisions.pop(name)

    async def patch(self, _res: Any, name: str, patch: Obj, _ns: str) -> Obj:
        self.pod_patches.append((name, patch))
        return patch


def daemonset(image: str, limit: int | None = None) -> Obj:
    containers = [{"name": "c", "image": image}]
    template = {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": containers}}
    spec: Obj = {"template": template}
    if limit is not None:
        spec["revisionHistoryLimit"] = limit
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "ns", "uid": "u1", "annotations": {"note": "x"}},
        "spec": spec,
    }


def pod(name: str, hash_: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns", "labels": {HASH_LABEL: hash_}}}


def sync(client: FakeClient, ds: Obj, pods: list[Obj]) -> Obj:
    result = asyncio.run(sync_daemon_history(client, ds, list(client.revisions.values()), pods))  # type: ignore[arg-type]
    assert result is not None
    return result


def test_one_revision_per_template_and_roll_back_renumbers() -> None:
    client = FakeClient()
    first = sync(client, daemonset("a:1"), [])
    assert first["revision"] == 1 and first["metadata"]["name"] == f"agent-{current_hash(first)}"
    assert first["metadata"]["annotations"] == {"note": "x"}
    assert first["metadata"]["labels"] == {"app": "agent", HASH_LABEL: current_hash(first)}
    assert sync(client, daemonset("a:1"), []) == first  # nothing new for the same template
    second = sync(client, daemonset("a:2"), [])
    assert second["revision"] == 2 and len(client.revisions) == 2
    back = sync(client, daemonset("a:1"), [])
    assert back["metadata"]["name"] == first["metadata"]["name"] and back["revision"] == 3
    assert len(client.revisions) == 2


def test_a_copy_of_the_current_revision_is_merged_into_the_newest() -> None:
    client = FakeClient()
    ds = daemonset("a:1")
    first = sync(client, ds, [])
    template = ds["spec"]["template"]
    copied = new_revision(ds, "agent-copy", (HASH_LABEL, "copy"), template, 2)
    client.revisions["agent-copy"] = copied
    kept = sync(client, ds, [pod("p1", current_hash(first)), pod("p2", "copy")])
    assert kept["metadata"]["name"] == "agent-copy"
    assert list(client.revisions) == ["agent-copy"]
    assert client.pod_patches == [("p1", {"metadata": {"labels": {HASH_LABEL: "copy"}}})]


def test_old_revisions_beyond_the_limit_go_unless_a_pod_uses_them() -> None:
    client = FakeClient()
    used = sync(client, daemonset("a:1", limit=0), [])
    still = [pod("p", current_hash(used))]
    sync(client, daemonset("a:2", limit=0), still)
    sync(client, daemonset("a:3", limit=0), still)
    kept = client.revisions.values()
    images = sorted(r["data"]["spec"]["template"]["spec"]["containers"][0]["image"] for r in kept)
    assert images == ["a:1", "a:3"]  # a:2 pruned; a:1 still carried by a pod
