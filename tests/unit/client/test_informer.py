from __future__ import annotations

import asyncio

from kprov.cluster.client.informer import EventHandler, Informer, strip_managed_fields
from kprov.cluster.client.resources import PODS
from kprov.cluster.client.rest import WatchEvent
from kprov.cluster.client.store import index_by_node_name
from tests.unit.client.fake_api import FakeApi, gone


def pod(name: str, rv: str, node: str = "") -> dict:
    return {"metadata": {"name": name, "namespace": "d", "resourceVersion": rv}, "spec": {"nodeName": node}}


async def settle(cond, timeout: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.01)):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_list_then_watch_then_relist_on_gone() -> None:
    api = FakeApi()
    await api.create(PODS, pod("a", "", "n1"))
    inf = Informer(api, PODS, indexers={"node": index_by_node_name})  # type: ignore[arg-type]
    seen: list[tuple[str, str]] = []
    inf.add_handler(
        EventHandler(
            on_add=lambda o: seen.append(("add", o["metadata"]["name"])),
            on_update=lambda old, new: seen.append(("update", new["metadata"]["name"])),
            on_delete=lambda o: seen.append(("delete", o["metadata"]["name"])),
        )
    )
    task = asyncio.create_task(inf.run())
    await asyncio.wait_for(inf.wait_synced(), 1)
    assert seen == [("add", "a")]
    assert [p["metadata"]["name"] for p in inf.store.by_index("node", "n1")] == ["a"]

    await api.events.put(WatchEvent("ADDED", pod("b", "5", "n2")))
    await api.events.put(WatchEvent("MODIFIED", pod("a", "6", "n2")))
    await api.events.put(WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "9"}}))
    await settle(lambda: inf.resource_version == "9")
    assert seen[1:] == [("add", "b"), ("update", "a")]
    assert sorted(p["metadata"]["name"] for p in inf.store.by_index("node", "n2")) == ["a", "b"]

    # While the watch is broken, "b" is deleted and "c" created; the relist must notice both.
    api.objects["pods"].pop("d/b", None)
    api.objects["pods"]["d/a"] = pod("a", "6", "n2")
    await api.create(PODS, pod("c", "", "n1"))
    await api.events.put(gone())
    await settle(lambda: api.lists == 2 and "d/c" in inf.store)
    assert ("delete", "b") in seen and ("add", "c") in seen
    assert "d/b" not in inf.store
    task.cancel()


async def test_a_transform_shapes_what_is_cached_and_handed_out() -> None:
    api = FakeApi()
    listed = pod("a", "")
    listed["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    await api.create(PODS, listed)
    inf = Informer(api, PODS, transform=strip_managed_fields)  # type: ignore[arg-type]
    handed: list[dict] = []
    inf.add_handler(EventHandler(on_add=handed.append, on_update=lambda _o, n: handed.append(n)))
    task = asyncio.create_task(inf.run())
    await asyncio.wait_for(inf.wait_synced(), 1)
    watched = pod("a", "7")
    watched["metadata"]["managedFields"] = [{"manager": "kubelet"}]
    await api.events.put(WatchEvent("MODIFIED", watched))
    await settle(lambda: inf.resource_version == "7")
    assert [h["metadata"]["resourceVersion"] for h in handed][-1] == "7"
    assert all("managedFields" not in h["metadata"] for h in handed)
    assert "managedFields" not in inf.store.get("d/a")["metadata"]
    assert inf.store.get("d/a")["metadata"]["name"] == "a"
    task.cancel()
