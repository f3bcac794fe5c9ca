"""The node's Lease is owned by its Node once the kubelet knows the Node's uid."""

from __future__ import annotations

from datetime import UTC, datetime

from kprov.cluster.kubelet.node.registration import lease_object


def test_the_lease_names_its_node_as_owner_only_with_a_uid() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert "ownerReferences" not in lease_object("h1", "h1", now)["metadata"]
    owned = lease_object("h1", "h1", now, "0d1f")["metadata"]["ownerReferences"]
    assert owned == [{"apiVersion": "v1", "kind": "Node", "name": "h1", "uid": "0d1f"}]
