from __future__ import annotations

from kprov.cluster.client.store import Store, index_by_node_name, object_key


def pod(name: str, node: str = "", ns: str = "default") -> dict:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"nodeName": node} if node else {}}


def test_index_follows_updates_and_removals() -> None:
    store = Store({"node": index_by_node_name})
    store.put(pod("a", "n1"))
    store.put(pod("b", "n1"))
    store.put(pod("c"))
    assert {object_key(p) for p in store.by_index("node", "n1")} == {"default/a", "default/b"}
    store.put(pod("a", "n2"))
    assert [object_key(p) for p in store.by_index("node", "n1")] == ["default/b"]
    assert [object_key(p) for p in store.by_index("node", "n2")] == ["default/a"]
    store.remove("default/b")
    assert store.by_index("node", "n1") == []
    assert "n1" not in store.index_values("node")
    assert len(store) == 2


def test_indexer_added_later_covers_existing_objects() -> None:
    store = Store()
    store.put(pod("a", "n1"))
    store.add_indexer("node", index_by_node_name)
    assert store.index_keys("node", "n1") == {"default/a"}
    assert object_key({"metadata": {"name": "n1"}}) == "n1"
