"""The official `kubernetes` Python client against our API server: CRUD, watch with
bookmarks, resourceVersion semantics and 410 Expired."""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


@pytest.fixture
def core(control_plane) -> client.CoreV1Api:  # type: ignore[no-untyped-def]
    api = config.new_client_from_config(config_file=str(control_plane.admin_kubeconfig))
    return client.CoreV1Api(api)


def _pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "py"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def test_create_list_patch_delete(core, namespace):
    created = core.create_namespaced_pod(namespace, _pod("p1"))
    assert created.metadata.uid and created.spec.containers[0].image_pull_policy == "Always"
    with pytest.raises(ApiException) as dup:
        core.create_namespaced_pod(namespace, _pod("p1"))
    assert dup.value.status == 409 and '"reason":"AlreadyExists"' in dup.value.body.replace(" ", "")
    listed = core.list_namespaced_pod(namespace, label_selector="app=py")
    assert [p.metadata.name for p in listed.items] == ["p1"]
    assert core.list_namespaced_pod(namespace, label_selector="app=other").items == []
    patched = core.patch_namespaced_pod("p1", namespace, {"metadata": {"labels": {"x": "1"}}})
    assert patched.metadata.labels == {"app": "py", "x": "1"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)
    core.delete_namespaced_pod("p1", namespace)
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_pod("p1", namespace)
    assert gone.value.status == 404


def test_paged_list_is_one_consistent_snapshot(core, namespace):
    for i in range(5):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"cm{i}"}, "data": {"i": str(i)}})
    first = core.list_namespaced_config_map(namespace, limit=2)
    assert len(first.items) == 2 and first.metadata._continue
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "cm9-late"}})
    names = [c.metadata.name for c in first.items]
    token = first.metadata._continue
    while token:
        page = core.list_namespaced_config_map(namespace, limit=2, _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version
        names += [c.metadata.name for c in page.items]
        token = page.metadata._continue
    assert [n for n in names if n.startswith("cm")] == [f"cm{i}" for i in range(5)]


def test_watch_from_resource_version_sees_only_later_changes_and_bookmarks(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "old"}})
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version

    def writer() -> None:
        time.sleep(0.5)
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "new"}})
        core.delete_namespaced_config_map("new", namespace)

    threading.Thread(target=writer, daemon=True).start()
    events = []
    watcher = watch.Watch()
    for event in watcher.stream(
        core.list_namespaced_config_map,
        namespace,
        resource_version=rv,
        timeout_seconds=20,
        allow_watch_bookmarks=True,
    ):
        events.append(event)
        types = [e["type"] for e in events]
        if "DELETED" in types and types[-1] == "BOOKMARK":  # the changes, then a later bookmark
            watcher.stop()
    changes = [(e["type"], e["object"].metadata.name) for e in events if e["type"] != "BOOKMARK"]
    assert changes == [("ADDED", "new"), ("DELETED", "new")]
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks and int(bookmarks[-1]["raw_object"]["metadata"]["resourceVersion"]) >= int(rv)


def test_watch_without_resource_version_starts_with_current_state(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "present"}})
    stream = watch.Watch().stream(core.list_namespaced_config_map, namespace, timeout_seconds=1)
    first = next(iter(stream))
    assert first["type"] == "ADDED" and first["object"].metadata.name == "present"
