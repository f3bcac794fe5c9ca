"""Status fields Go writes even when zero, filled in before a built-in object is stored."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.kinds.status_zeros import fill_status_zeros
from kprov.cluster.api.resources import REGISTRY


def _filled(group: str, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    info = REGISTRY.get(group, "v1", resource)
    assert info is not None
    fill_status_zeros(info, obj)
    return obj


def test_new_statefulset_has_the_counts_without_omitempty() -> None:
    status = _filled("apps", "statefulsets", {"spec": {}})["status"]
    assert list(status.items()) == [("replicas", 0), ("availableReplicas", 0)]


def test_new_daemonset_has_its_four_counts() -> None:
    assert _filled("apps", "daemonsets", {})["status"] == {
        "currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0,
    }


def test_values_present_are_kept_and_struct_fields_written() -> None:
    assert _filled("apps", "statefulsets", {"status": {"replicas": 3}})["status"]["replicas"] == 3
    assert _filled("", "services", {})["status"] == {"loadBalancer": {}}
    assert _filled("apps", "deployments", {})["status"] == {}
    assert "status" not in _filled("", "configmaps", {})
