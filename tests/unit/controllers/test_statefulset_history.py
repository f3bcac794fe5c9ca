"""A StatefulSet's ControllerRevisions: one per template, roll back reuses, pods below the
partition come from the current revision."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from kprov.cluster.controllers.workloads.controller_history import template_of
from kprov.cluster.controllers.workloads.statefulset import StatefulSetController
from kprov.cluster.controllers.workloads.statefulset_history import revision_name, sync_history


class FakeClient:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}

    async def create(self, _res: Any, body: dict[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(body)
        self.objects[body["metadata"]["name"]] = stored
        return stored

    async def update(self, _res: Any, body: dict[str, Any]) -> dict[str, Any]:
        self.objects[body["metadata"]["name"]] = copy.deepcopy(body)
        return body

    async def get(self, _res: Any, name: str, _ns: str) -> dict[str, Any]:
        return self.objects[name]

    async def delete(self, _res: Any, name: str, _ns: str) -> None:
        self.objects.pop(name)


def sts(image: str, partition: int = 0, current: str = "") -> dict[str, Any]:
    containers = [{"name": "c", "image": image}]
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}
    return {
        "metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
        "spec": {
            "template": template,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}},
            "revisionHistoryLimit": 1,
        },
        "status": {"currentRevision": current} if current else {},
    }


def test_revisions_follow_the_template_and_roll_back_reuses_one() -> None:
    client = FakeClient()

    async def run() -> None:
        first = await sync_history(client, sts("a:1"), [], set())  # type: ignore[arg-type]
        assert first.current == first.update == revision_name(sts("a:1"), sts("a:1")["spec"]["template"])
        rev1 = client.objects[first.update]
        assert rev1["revision"] == 1 and rev1["metadata"]["labels"]["app"] == "web"
        kept = template_of(rev1)  # the template as Go writes it: zero-valued structs included
        assert kept["metadata"] == {"labels": {"app": "web"}}
        assert kept["spec"]["containers"] == [{"name": "c", "image": "a:1", "resources": {}}]

        second = await sync_history(  # type: ignore[arg-type]
            client, sts("a:2", partition=2, current=first.update), list(client.objects.values()), set()
        )
        assert second.current == first.update and second.update != first.update
        assert client.objects[second.update]["revision"] == 2
        # pods below the partition are made from the current revision's template
        set2 = sts("a:2", partition=2, current=first.update)
        assert StatefulSetController._revision_for(set2, 1, second) == first.update
        assert StatefulSetController._revision_for(set2, 2, second) == second.update
        image = second.templates[first.update]["spec"]["containers"][0]["image"]
        assert image == "a:1"

        back = await sync_history(  # type: ignore[arg-type]
            client, sts("a:1", current=second.update), list(client.objects.values()), set()
        )
        assert back.update == first.update and client.objects[first.update]["revision"] == 3

    asyncio.run(run())


def test_on_delete_recreates_pods_at_the_update_revision_and_rolling_ones_below_the_partition_not() -> None:
    from kprov.cluster.controllers.workloads.statefulset import StatefulSetController
    from kprov.cluster.controllers.workloads.statefulset_history import History

    history = History("ss-old", "ss-new", {"ss-old": {}, "ss-new": {}})
    on_delete = {"spec": {"updateStrategy": {"type": "OnDelete"}}, "status": {"currentReplicas": 3}}
    assert [StatefulSetController._revision_for(on_delete, i, history) for i in range(3)] == ["ss-new"] * 3
    partitioned = {"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
                            "ordinals": {"start": 5}}}
    assert [StatefulSetController._revision_for(partitioned, i, history) for i in (5, 6, 7)] == [
        "ss-old", "ss-old", "ss-new"]
