"""Paginated lists: continue pages come from the snapshot the first page came from, kept in
the API server's memory, not from etcd.

The proof is a compaction: after the first page, objects change and etcd is compacted past
the list's revision, so a page read from etcd at that revision would be 410 Expired. Every
page still comes, and together they are exactly the state at the first page's revision. A
token for a revision this server kept no snapshot of still goes to etcd (and gets 410).
Its own control plane: compacting the shared session's etcd would be a surprise for others.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from kprov.cluster.client import ApiClient, resources
from kprov.cluster.client.errors import Gone
from kprov.local import LocalControlPlane

NS = "pages"


def _etcdctl(url: str, *args: str) -> str:
    done = subprocess.run(["etcdctl", "--endpoints", url, *args], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "ETCDCTL_API": "3"}, check=True)
    return done.stdout


@pytest.mark.skipif(not os.path.exists("/usr/bin/etcd"), reason="etcd is not installed")
def test_continue_pages_come_from_the_kept_snapshot_even_after_a_compaction(tmp_path: Path) -> None:
    plane = LocalControlPlane(tmp_path, start_components=False)
    try:
        info = plane.up()
        asyncio.run(_pages(info.admin_kubeconfig, info.etcd_url))
    finally:
        plane.down()


async def _pages(kubeconfig: str, etcd_url: str) -> None:
    async with ApiClient.from_kubeconfig(kubeconfig) as client:
        await client.create(resources.NAMESPACES, {"metadata": {"name": NS}})
        for i in range(25):
            await client.create(resources.CONFIGMAPS, {"metadata": {"name": f"cm-{i:02d}", "namespace": NS}})
        first = await client.list(resources.CONFIGMAPS, NS, limit=10)
        token = first["metadata"]["continue"]
        assert len(first["items"]) == 10 and first["metadata"]["remainingItemCount"] == 15

        await client.delete(resources.CONFIGMAPS, "cm-15", NS)  # on page 2
        await client.create(resources.CONFIGMAPS, {"metadata": {"name": "cm-99", "namespace": NS}})
        status = json.loads(_etcdctl(etcd_url, "endpoint", "status", "-w", "json"))
        _etcdctl(etcd_url, "compact", str(status[0]["Status"]["header"]["revision"]))

        names = [i["metadata"]["name"] for i in first["items"]]
        while token:
            page = await client.list(resources.CONFIGMAPS, NS, limit=10, continue_token=token)
            names += [i["metadata"]["name"] for i in page["items"]]
            assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
            token = page["metadata"].get("continue")
        assert names == [f"cm-{i:02d}" for i in range(25)], "the state at the first page's revision"

        data = json.loads(base64.urlsafe_b64decode(first["metadata"]["continue"] + "=="))
        stale = {"rv": data["rv"] - 1, "start": data["start"]}  # never kept: etcd, compacted
        raw = base64.urlsafe_b64encode(json.dumps(stale).encode()).decode().rstrip("=")
        with pytest.raises(Gone):
            await client.list(resources.CONFIGMAPS, NS, limit=10, continue_token=raw)
