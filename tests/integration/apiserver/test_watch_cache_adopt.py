"""The watch cache adopts the objects its own server writes instead of decoding their events
again: what it then holds must be exactly what a decode of etcd's copy gives.

An API server runs in this process (same etcd and PKI as the session's control plane) so its
cache can be read directly after a workload that goes through every kind of write.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import yaml

from kprov.cluster.apiserver.__main__ import parse_args
from kprov.cluster.apiserver.server import start_server
from kprov.cluster.client import ApiClient, resources
from kprov.cluster.storage import Codec, EtcdConfig, EtcdKV, Store, WatchCache
from kprov.cluster.storage.keys import REGISTRY_PREFIX
from kprov.local.certs import ensure_pki
from kprov.local.control_plane import apiserver_argv
from kprov.local.ports import free_port


def _pod(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"app": "adopt"}},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "registry.local/x:1",
                    "ports": [{"containerPort": 80}],
                    "resources": {"requests": {"cpu": "10m"}, "limits": {"cpu": "10m", "memory": "8Mi"}},
                    "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                    "readinessProbe": {"httpGet": {"port": 80}},
                }
            ],
            "volumes": [{"name": "v", "configMap": {"name": "cm"}}],
        },
    }


async def _workload(client: ApiClient, ns: str) -> None:
    await client.create(resources.NAMESPACES, {"metadata": {"name": ns}})
    await client.create(resources.CONFIGMAPS, {"metadata": {"name": "cm"}, "data": {"a": "1"}}, ns)
    await client.create(resources.SECRETS, {"metadata": {"name": "s"}, "stringData": {"k": "v"}}, ns)
    await client.create(
        resources.SERVICES,
        {
            "metadata": {"name": "svc"},
            "spec": {"type": "NodePort", "selector": {"app": "adopt"}, "ports": [{"port": 80}]},
        },
        ns,
    )
    deployment = {
        "metadata": {"name": "d"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "adopt"}}, "template": _pod("ignored")},
    }
    await client.create(resources.DEPLOYMENTS, deployment, ns)
    await client.patch(resources.DEPLOYMENTS, "d", {"spec": {"replicas": 3}}, ns, subresource="scale")
    await asyncio.gather(*(client.create(resources.PODS, _pod(f"p{i}"), ns) for i in range(20)))
    await client.create(resources.PODS, {**_pod(""), "metadata": {"generateName": "g-"}}, ns)
    await client.bind(ns, "p0", "node-a")
    await client.patch(resources.PODS, "p1", {"metadata": {"labels": {"x": "y"}}}, ns)
    await client.patch(
        resources.PODS,
        "p2",
        [{"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}}],
        ns,
        patch_type="json",
    )
    await client.patch(
        resources.PODS,
        "p3",
        {"spec": {"tolerations": [{"key": "k", "operator": "Exists"}]}},
        ns,
        patch_type="strategic",
    )
    live = await client.get(resources.PODS, "p4", ns)
    live["status"] = {**live.get("status", {}), "phase": "Running", "podIP": "10.0.0.4"}
    await client.update_status(resources.PODS, live)
    await client.request(
        "PATCH",
        resources.CONFIGMAPS.path(ns, "applied"),
        params={"fieldManager": "test"},
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"b": "2"}},
        content_type="application/apply-patch+yaml",
    )
    await client.delete(resources.PODS, "p5", ns, grace_period_seconds=30)  # marked, stays
    await client.delete(resources.PODS, "p6", ns, grace_period_seconds=0)


async def test_cached_objects_equal_etcds_after_every_kind_of_write(control_plane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pki = ensure_pki(control_plane.plane.dir)
    port = free_port()
    config = parse_args(apiserver_argv(pki, control_plane.etcd_url, port)[3:])
    runner, ctx, kv = await start_server(config)
    kubeconfig = tmp_path / "admin.conf"
    doc = yaml.safe_load(control_plane.admin_kubeconfig.read_text())
    doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    kubeconfig.write_text(yaml.safe_dump(doc))
    ns = f"adopt-{uuid.uuid4().hex[:8]}"
    try:
        async with ApiClient.from_kubeconfig(kubeconfig) as client:
            await _workload(client, ns)
        page = await ctx.store.list(REGISTRY_PREFIX)  # everything, as etcd holds it now
        assert sum(1 for item in page.items if f"/{ns}/" in item.key) >= 24
        ours = [item for item in page.items if f"/{ns}/" in item.key or f"/{ns}" == item.key[-len(ns) - 1 :]]
        await _until_cached(ctx.cache, {item.key: item.revision for item in ours})
        for item in page.items:
            cached = ctx.cache.get(item.key)
            if cached is None or cached["metadata"]["resourceVersion"] != str(item.revision):
                continue  # changed since (leases, endpoints), or not yet applied: not ours to judge
            assert cached == item.obj, item.key
            assert _types(cached) == _types(item.obj), item.key
        for item in ours:
            assert ctx.cache.get(item.key) == item.obj, item.key
    finally:
        await ctx.cache.stop()
        await runner.cleanup()
        await kv.close()


async def _until_cached(cache: WatchCache, revisions: dict[str, int], timeout_s: float = 10.0) -> None:
    """Wait until the cache holds each key at (at least) its revision: by its events, not by
    wait_for's progress notifications, which etcd 3.4.23 may send ahead of queued events."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        behind = [
            key
            for key, revision in revisions.items()
            if int(((cache.get(key) or {}).get("metadata") or {}).get("resourceVersion") or 0) < revision
        ]
        if not behind:
            return
        assert asyncio.get_running_loop().time() < deadline, f"not cached in {timeout_s}s: {behind[:5]}"
        await asyncio.sleep(0.02)


def _types(value: Any) -> Any:
    """The value's shape with its types (== alone says (1,) == [1] is False but 1 == 1.0)."""
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_types(v) for v in value])
    return type(value).__name__


async def test_the_cache_holds_the_very_object_its_store_wrote(control_plane) -> None:  # type: ignore[no-untyped-def]
    kv = EtcdKV(EtcdConfig([control_plane.etcd_url]))
    await kv.connect()
    codec = Codec()
    store = Store(kv, codec)
    cache = WatchCache(kv, codec, lambda key: key[: key.rfind("/") + 1])
    await cache.start()
    store.on_written = cache.adopt
    key = f"/registry/adopt-test/{uuid.uuid4().hex}/o"
    try:
        created = await store.create(key, {"metadata": {"name": "o"}, "v": 1})
        updated = await store.update(key, {"metadata": {"name": "o"}, "v": 2}, created.revision)
        await _until_cached(cache, {key: updated.revision})
        assert cache.get(key) is updated.obj
        elsewhere = await kv.range(key.encode())  # a write by someone else is decoded
        rewritten = await kv.put(key.encode(), elsewhere.kvs[0].value.replace(b'"v":2', b'"v":3'))
        await _until_cached(cache, {key: rewritten})  # the put's own revision: the shared etcd moves on
        assert cache.get(key) is not updated.obj and cache.get(key)["v"] == 3  # type: ignore[index]
    finally:
        await cache.stop()
        await kv.client.delete_prefix(key.encode())
        await kv.close()
