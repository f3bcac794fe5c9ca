"""plan_pod: the pure decision of a pod worker's sync (upstream's computePodActions), table-tested."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.kubelet.cri.types import (
    CONTAINER_CREATED,
    CONTAINER_EXITED,
    CONTAINER_RUNNING,
    ContainerInfo,
)
from kprov.cluster.kubelet.pods.plan import KillForLiveness, RestartContainer, StartContainer, plan_pod


def c(name: str, state: str, exit_code: int = 0, attempt: int = 0) -> ContainerInfo:
    return ContainerInfo(f"id-{name}-{attempt}", "sb", name, attempt, state, 1, exit_code=exit_code)


def summary(spec: dict[str, Any], phase: str | None, have: list[ContainerInfo], **kw: Any) -> list[str]:
    by_name: dict[str, list[ContainerInfo]] = {}
    for info in have:
        by_name.setdefault(info.name, []).append(info)
    actions = plan_pod(
        spec,
        phase,
        by_name,
        started=kw.get("started", lambda container, cur: True),
        liveness_failed=kw.get("liveness_failed", lambda cur: False),
    )
    out = []
    for step in actions.steps:
        if isinstance(step, StartContainer):
            out.append(
                f"start {step.container['name']} {step.kind}"
                + (f" in {step.target_id}" if step.target_id else "")
            )
        elif isinstance(step, RestartContainer):
            out.append(f"restart {step.container['name']} {step.kind}")
        elif isinstance(step, KillForLiveness):
            out.append(f"kill {step.container['name']}")
    return out + ([] if actions.init_done else ["(init pending)"])


INIT = [{"name": "i1"}, {"name": "i2"}]
APP = [{"name": "a"}, {"name": "b"}]
SIDECAR = {"name": "side", "restartPolicy": "Always"}

CASES = [
    (
        "a new pod starts its first init container only",
        {"initContainers": INIT, "containers": APP},
        None,
        [],
        ["start i1 init", "(init pending)"],
    ),
    (
        "a running init container holds the rest back",
        {"initContainers": INIT, "containers": APP},
        None,
        [c("i1", CONTAINER_RUNNING)],
        ["(init pending)"],
    ),
    (
        "init containers done: every app container starts",
        {"initContainers": INIT, "containers": APP},
        None,
        [c("i1", CONTAINER_EXITED), c("i2", CONTAINER_EXITED)],
        ["start a app", "start b app"],
    ),
    (
        "a failed init container is restarted under Always",
        {"initContainers": INIT, "containers": APP},
        None,
        [c("i1", CONTAINER_EXITED, 1)],
        ["restart i1 init", "(init pending)"],
    ),
    (
        "... but not under Never",
        {"initContainers": INIT, "containers": APP, "restartPolicy": "Never"},
        None,
        [c("i1", CONTAINER_EXITED, 1)],
        ["(init pending)"],
    ),
    (
        "OnFailure restarts a failed app container, not a succeeded one",
        {"containers": APP, "restartPolicy": "OnFailure"},
        "Running",
        [c("a", CONTAINER_EXITED, 2), c("b", CONTAINER_EXITED, 0)],
        ["restart a app"],
    ),
    (
        "Never restarts nothing",
        {"containers": APP, "restartPolicy": "Never"},
        "Running",
        [c("a", CONTAINER_EXITED, 2), c("b", CONTAINER_RUNNING)],
        [],
    ),
    (
        "a sidecar starts, then the app waits for it",
        {"initContainers": [SIDECAR], "containers": APP},
        None,
        [],
        ["start side init", "(init pending)"],
    ),
    (
        "a started sidecar lets the app containers start",
        {"initContainers": [SIDECAR], "containers": APP},
        None,
        [c("side", CONTAINER_RUNNING)],
        ["start a app", "start b app"],
    ),
    (
        "an exited sidecar of a Running pod restarts without holding the apps back",
        {"initContainers": [SIDECAR], "containers": APP},
        "Running",
        [c("side", CONTAINER_EXITED, 1), c("a", CONTAINER_RUNNING)],
        ["restart side init", "start b app"],
    ),
    (
        "an exited sidecar of a Pending pod holds them back",
        {"initContainers": [SIDECAR], "containers": APP},
        "Pending",
        [c("side", CONTAINER_EXITED, 1)],
        ["restart side init", "(init pending)"],
    ),
    (
        "a created (not running) app container is left alone",
        {"containers": APP},
        "Pending",
        [c("a", CONTAINER_CREATED), c("b", CONTAINER_RUNNING)],
        [],
    ),
    (
        "an ephemeral container starts once, in its running target's namespaces",
        {"containers": APP, "ephemeralContainers": [{"name": "dbg", "targetContainerName": "a"}]},
        "Running",
        [c("a", CONTAINER_RUNNING), c("b", CONTAINER_RUNNING)],
        ["start dbg ephemeral in id-a-0"],
    ),
    (
        "an ephemeral container that ran is never started again",
        {"containers": APP, "ephemeralContainers": [{"name": "dbg"}]},
        "Running",
        [c("a", CONTAINER_RUNNING), c("b", CONTAINER_RUNNING), c("dbg", CONTAINER_EXITED)],
        [],
    ),
]


@pytest.mark.parametrize(
    ("spec", "phase", "have", "want"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_plan(spec: dict[str, Any], phase: str | None, have: list[ContainerInfo], want: list[str]) -> None:
    assert summary(spec, phase, have) == want


def test_a_sidecar_that_has_not_passed_its_startup_probe_holds_the_app_back() -> None:
    spec = {"initContainers": [SIDECAR], "containers": APP}
    assert summary(spec, None, [c("side", CONTAINER_RUNNING)], started=lambda container, cur: False) == [
        "(init pending)"
    ]


def test_a_failed_liveness_probe_kills_only_that_container() -> None:
    have = [c("a", CONTAINER_RUNNING), c("b", CONTAINER_RUNNING)]
    assert summary({"containers": APP}, "Running", have, liveness_failed=lambda cur: cur.name == "b") == [
        "kill b"
    ]


def test_the_newest_attempt_decides() -> None:
    # history newest first: the running attempt 1 counts, not the exited attempt 0
    have = [c("a", CONTAINER_RUNNING, attempt=1), c("a", CONTAINER_EXITED, 1, attempt=0)]
    assert summary({"containers": [{"name": "a"}]}, "Running", have) == []
