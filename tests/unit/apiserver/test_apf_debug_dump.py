"""The /debug/api_priority_and_fairness/ dumps rendered from a controller in a known state:
the tabwriter layout, one request holding the only seat of a level and another waiting in
one of its queues (levels, queues, requests with and without details), and the counters
after the seat is freed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from kprov.cluster.apiserver.flowcontrol.bootstrap_objects import (
    mandatory_flow_schemas,
    mandatory_priority_levels,
)
from kprov.cluster.apiserver.flowcontrol.controller import Controller
from kprov.cluster.apiserver.flowcontrol.debug_dump import DUMP_PATHS, dump, tabulate
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo

PREFIX = "/debug/api_priority_and_fairness/"


def test_tabulate_pads_as_gos_tabwriter() -> None:
    text = tabulate([("Name", "Index", "Sum"), ("a-much-longer-name", "1", "0.5ss")])
    assert text == (
        "Name,               Index,  Sum\n"  # 20 = 18 + "," + padding 1; minimum 8
        "a-much-longer-name, 1,      0.5ss\n"
    )
    assert tabulate([("A", "")]) == "A,      \n"  # the last cell unpadded, even when empty


_LEVEL: dict[str, Any] = {
    "metadata": {"name": "narrow"},
    "spec": {
        "type": "Limited",
        "limited": {
            "nominalConcurrencyShares": 1,
            "limitResponse": {
                "type": "Queue",
                "queuing": {"queues": 4, "handSize": 1, "queueLengthLimit": 5},
            },
        },
    },
}
_SCHEMA: dict[str, Any] = {
    "metadata": {"name": "narrow"},
    "spec": {
        "priorityLevelConfiguration": {"name": "narrow"},
        "matchingPrecedence": 10,
        "distinguisherMethod": {"type": "ByUser"},
        "rules": [
            {
                "subjects": [{"kind": "Group", "group": {"name": "system:authenticated"}}],
                "resourceRules": [
                    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "namespaces": ["*"]}
                ],
            }
        ],
    },
}


def _lookup() -> Callable[[str], list[dict[str, Any]]]:
    """The watch cache's scope(): the same objects on every call, as the cache hands them."""
    schemas, levels = mandatory_flow_schemas() + [_SCHEMA], mandatory_priority_levels() + [_LEVEL]
    for obj in schemas + levels:
        obj["metadata"]["uid"] = f"uid-{obj['metadata']['name']}"
    return lambda prefix: schemas if "flowschemas" in prefix else levels


def _rows(text: str) -> list[list[str]]:
    return [re.split(r",\s+", line) for line in text.splitlines()]


def test_dumps_show_a_seated_and_a_queued_request() -> None:
    async def scenario() -> None:
        controller = Controller(_lookup(), server_limit=6)  # catch-all 5 shares, narrow 1: one seat
        release = asyncio.Event()
        answered: list[Any] = []

        def send(user: str, name: str) -> asyncio.Task[Any]:
            ri = RequestInfo("", "v1", "configmaps", "team-a", name, "", "get")
            path = f"/api/v1/namespaces/team-a/configmaps/{name}"

            async def call() -> str:
                await release.wait()
                return "answered"

            async def served() -> Any:
                answered.append(
                    await controller.serve(
                        UserInfo(user, ("system:authenticated",)), ri, "GET", path, {}, call, lambda s: s
                    )
                )

            return asyncio.create_task(served())

        holder = send("alice", "first")
        await asyncio.sleep(0)
        waiter = send("bob", "second")
        await asyncio.sleep(0)
        assert set(DUMP_PATHS) == {
            PREFIX + n for n in ("dump_priority_levels", "dump_queues", "dump_requests")
        }

        levels = _rows(dump(controller, PREFIX + "dump_priority_levels", False) or "")
        assert levels[0] == [
            "PriorityLevelName",
            "ActiveQueues",
            "IsIdle",
            "IsQuiescing",
            "WaitingRequests",
            "ExecutingRequests",
            "DispatchedRequests",
            "RejectedRequests",
            "TimedoutRequests",
            "CancelledRequests",
        ]
        assert [row[0] for row in levels[1:]] == ["catch-all", "exempt", "narrow"]
        assert levels[3] == ["narrow", "1", "false", "false", "1", "1", "1", "0", "0", "0"]
        assert levels[1][1:3] == ["0", "true"]

        queues = _rows(dump(controller, PREFIX + "dump_queues", False) or "")
        assert queues[0][:3] == ["PriorityLevelName", "Index", "PendingRequests"]
        assert queues[0][3:] == [
            "ExecutingRequests",
            "SeatsInUse",
            "NextDispatchR",
            "InitialSeatsSum",
            "MaxSeatsSum",
            "TotalWorkSum",
        ]
        narrow = [row for row in queues[1:] if row[0] == "narrow"]
        assert [row[1] for row in narrow] == ["0", "1", "2", "3"]
        pending = [row for row in narrow if row[2] != "0"]
        assert len(pending) == 1 and pending[0][2:] == [
            "1",
            "0",
            "0",
            "0.00000000ss",
            "1",
            "1",
            "0.00000000ss",
        ]
        queue_index = pending[0][1]

        plain = _rows(dump(controller, PREFIX + "dump_requests", False) or "")
        assert plain[0] == [
            "PriorityLevelName",
            "FlowSchemaName",
            "QueueIndex",
            "RequestIndexInQueue",
            "FlowDistingsher",
            "ArriveTime",
            "InitialSeats",
            "FinalSeats",
            "AdditionalLatency",
            "StartTime",
        ]
        waiting, seated = plain[1], plain[2]
        assert waiting[:5] == ["narrow", "narrow", queue_index, "0", "bob"]
        assert waiting[6:] == ["1", "0", "0s", "0001-01-01T00:00:00Z"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", waiting[5])
        assert seated[:5] == ["narrow", "narrow", "-1", "-1", "alice"] and seated[9] == seated[5]
        assert len(plain) == 3

        detailed = _rows(dump(controller, PREFIX + "dump_requests", True) or "")
        assert detailed[0][10:] == [
            "UserName",
            "Verb",
            "APIPath",
            "Namespace",
            "Name",
            "APIVersion",
            "Resource",
            "SubResource",
        ]
        assert detailed[1][10:] == [
            "bob",
            "get",
            "/api/v1/namespaces/team-a/configmaps/second",
            "team-a",
            "second",
            "v1",
            "configmaps",
            "",
        ]

        release.set()
        await asyncio.gather(holder, waiter)
        assert answered == ["answered", "answered"]
        levels = _rows(dump(controller, PREFIX + "dump_priority_levels", False) or "")
        assert levels[3] == ["narrow", "0", "true", "false", "0", "0", "2", "0", "0", "0"]
        assert len(_rows(dump(controller, PREFIX + "dump_requests", False) or "")) == 1
        assert dump(controller, PREFIX + "dump_other", False) is None

    asyncio.run(scenario())
