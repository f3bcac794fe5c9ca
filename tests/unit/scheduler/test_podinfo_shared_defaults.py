"""PodInfo is small: a workload's pods share one copy of their default spread constraints.

Sharing must never mix label sets (each pod's constraints select its own labels), nor
follow a later change of the pod's own labels dict.
"""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.scheduler.podinfo import DEFAULT_SPREAD, PodInfo


def _pod(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name, "namespace": "ns", "labels": labels,
            "ownerReferences": [{"kind": "ReplicaSet", "name": "rs", "controller": True, "uid": "u"}],
        },
        "spec": {"containers": [{"name": "c", "image": "pause"}]},
    }


def test_pods_of_one_workload_share_their_default_constraints() -> None:
    a = PodInfo.of(_pod("a", {"app": "x", "hash": "1"}))
    b = PodInfo.of(_pod("b", {"hash": "1", "app": "x"}))  # same set, other order
    other = PodInfo.of(_pod("c", {"app": "y"}))
    assert a.spread_constraints is b.spread_constraints and a.spread_selectors is b.spread_selectors
    assert [c["labelSelector"] for c in a.spread_constraints] == [{"matchLabels": {"app": "x", "hash": "1"}}] * 2  # noqa: E501
    assert [c["labelSelector"] for c in other.spread_constraints] == [{"matchLabels": {"app": "y"}}] * 2
    rest = [{k: v for k, v in c.items() if k != "labelSelector"} for c in a.spread_constraints]
    assert rest == list(DEFAULT_SPREAD)
    assert a.spread_selectors[0].matches({"app": "x", "hash": "1"})
    assert not other.spread_selectors[0].matches({"app": "x", "hash": "1"})


def test_a_later_change_of_the_pod_labels_does_not_reach_the_shared_copy() -> None:
    pod = _pod("a", {"app": "x"})
    info = PodInfo.of(pod)
    pod["metadata"]["labels"]["app"] = "changed"
    again = PodInfo.of(_pod("b", {"app": "x"}))
    assert again.spread_constraints[0]["labelSelector"] == {"matchLabels": {"app": "x"}}
    assert info.spread_constraints[0]["labelSelector"] == {"matchLabels": {"app": "x"}}


def test_pod_info_has_no_instance_dict() -> None:
    info = PodInfo.of(_pod("a", {"app": "x"}))
    with pytest.raises(AttributeError):
        info.__dict__  # noqa: B018 - slots: a few hundred bytes less per cached pod
