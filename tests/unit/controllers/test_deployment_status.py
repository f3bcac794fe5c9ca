"""deployment_status: a Deployment's status from its ReplicaSets, as upstream's controller writes it."""

from __future__ import annotations

from typing import Any

from kprov.cluster.controllers.workloads.deployment_status import deployment_status

T0, T1 = "2026-11-27T08:00:00Z", "2026-11-27T08:05:00Z"


def rs(name: str, replicas: int, available: int, ready: int | None = None) -> dict[str, Any]:
    status = {
        "replicas": replicas,
        "availableReplicas": available,
        "readyReplicas": available if ready is None else ready,
    }
    return {"metadata": {"name": name}, "status": status}


def deployment(replicas: int, strategy: dict[str, Any] | None = None, status: Any = None) -> dict[str, Any]:
    return {
        "metadata": {"generation": 4},
        "spec": {"replicas": replicas, "strategy": strategy or {}},
        "status": status or {},
    }


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_a_finished_rollout_is_available_and_complete() -> None:
    status = deployment_status(deployment(3), rs("web-1", 3, 3), [], T0)
    assert {
        k: status[k] for k in ("observedGeneration", "replicas", "updatedReplicas", "availableReplicas")
    } == {
        "observedGeneration": 4,
        "replicas": 3,
        "updatedReplicas": 3,
        "availableReplicas": 3,
    }
    assert "unavailableReplicas" not in status  # zero counts are left out, as Go's omitempty
    assert conditions(status) == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }


def test_mid_rollout_counts_every_set_and_availability_follows_max_unavailable() -> None:
    # 4 replicas, default 25 % maxUnavailable -> 1 may be missing: 3 available is enough
    status = deployment_status(deployment(4), rs("web-2", 2, 1), [rs("web-1", 3, 2)], T0)
    assert (status["replicas"], status["updatedReplicas"], status["unavailableReplicas"]) == (5, 2, 2)
    assert conditions(status)["Available"] == ("True", "MinimumReplicasAvailable")
    assert conditions(status)["Progressing"] == ("True", "ReplicaSetUpdated")
    short = deployment_status(deployment(4), rs("web-2", 2, 0), [rs("web-1", 3, 2)], T0)
    assert conditions(short)["Available"] == ("False", "MinimumReplicasUnavailable")


def test_recreate_tolerates_every_replica_missing() -> None:
    status = deployment_status(deployment(3, {"type": "Recreate"}), rs("web-2", 3, 0), [], T0)
    assert conditions(status)["Available"] == ("True", "MinimumReplicasAvailable")


def test_progressing_keeps_its_update_time_while_the_reason_stays() -> None:
    first = deployment_status(deployment(3), rs("web-2", 3, 1), [], T0)
    again = deployment_status(deployment(3, status=first), rs("web-2", 3, 2), [], T1)
    progressing = next(c for c in again["conditions"] if c["type"] == "Progressing")
    assert progressing["lastUpdateTime"] == T0
    done = deployment_status(deployment(3, status=again), rs("web-2", 3, 3), [], T1)
    progressing = next(c for c in done["conditions"] if c["type"] == "Progressing")
    assert (progressing["reason"], progressing["lastUpdateTime"]) == ("NewReplicaSetAvailable", T1)


def test_the_deployment_given_is_not_changed() -> None:
    d = deployment(1, status={"replicas": 9})
    deployment_status(d, rs("web-1", 1, 1), [], T0)
    assert d["status"] == {"replicas": 9}
