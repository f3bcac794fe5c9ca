"""APF logic without a server: classification over the bootstrap objects (precedence, subjects,
resource and non-resource rules, distinguishers), shuffle sharding, seats and fair queuing,
and which suggested objects the config producer may reset."""

from __future__ import annotations

import asyncio
from typing import Any

from kprov.cluster.apiserver.flowcontrol.bootstrap_objects import (
    mandatory_flow_schemas,
    mandatory_priority_levels,
    suggested_flow_schemas,
    suggested_priority_levels,
)
from kprov.cluster.apiserver.flowcontrol.classifier import Classifier, Level
from kprov.cluster.apiserver.flowcontrol.config_producer import should_update_suggested
from kprov.cluster.apiserver.flowcontrol.controller import Controller, bypasses
from kprov.cluster.apiserver.flowcontrol.queueing import LevelState, deal_hand, nominal_seats
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo


def _with_uids(objs: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    for obj in objs:
        obj["metadata"]["uid"] = f"{prefix}-{obj['metadata']['name']}"
    return objs


def _classifier() -> Classifier:
    classifier = Classifier()
    schemas = _with_uids(mandatory_flow_schemas() + suggested_flow_schemas(), "fs")
    levels = _with_uids(mandatory_priority_levels() + suggested_priority_levels(), "pl")
    classifier.refresh(schemas, levels)
    return classifier


def _ri(verb: str, resource: str, namespace: str = "", group: str = "", sub: str = "") -> RequestInfo:
    return RequestInfo(group, "v1", resource, namespace, "x", sub, verb)


AUTH = "system:authenticated"


def _schema(user: UserInfo, ri: RequestInfo | None, method: str = "GET", path: str = "/x") -> str:
    found = _classifier().classify(user, ri, method, path)
    assert found is not None
    return found.schema.name


def test_bootstrap_classification_as_upstream() -> None:
    admin = UserInfo("kubernetes-admin", ("system:masters", AUTH))
    node = UserInfo("system:node:n1", ("system:nodes", AUTH))
    kcm = UserInfo("system:kube-controller-manager", (AUTH,))
    sa_kube = UserInfo("system:serviceaccount:kube-system:foo", ("system:serviceaccounts", AUTH))
    sa_app = UserInfo("system:serviceaccount:app:foo", ("system:serviceaccounts", AUTH))
    someone = UserInfo("alice", (AUTH,))
    anonymous = UserInfo("system:anonymous", ("system:unauthenticated",))
    assert _schema(admin, _ri("create", "pods", "default")) == "exempt"
    assert _schema(node, _ri("update", "nodes", sub="status")) == "system-node-high"
    assert (
        _schema(node, _ri("update", "leases", "kube-node-lease", "coordination.k8s.io")) == "system-node-high"
    )
    assert _schema(node, _ri("get", "pods", "default")) == "system-nodes"
    assert (
        _schema(kcm, _ri("update", "leases", "kube-system", "coordination.k8s.io"))
        == "system-leader-election"
    )
    assert _schema(kcm, _ri("update", "endpoints", "default")) == "endpoint-controller"
    assert _schema(kcm, _ri("list", "pods")) == "kube-controller-manager"
    assert _schema(sa_kube, _ri("get", "configmaps", "kube-system")) == "workload-leader-election"
    assert _schema(sa_kube, _ri("list", "pods", "kube-system")) == "kube-system-service-accounts"
    assert _schema(sa_app, _ri("list", "pods", "app")) == "service-accounts"
    assert _schema(someone, _ri("list", "pods", "app")) == "global-default"
    assert _schema(anonymous, None, "GET", "/healthz") == "probes"
    assert _schema(anonymous, None, "POST", "/healthz") == "global-default"
    assert _schema(someone, None, "GET", "/livez") == "probes"


def test_rules_scope_and_urls_and_distinguishers() -> None:
    classifier = Classifier()
    level = {"metadata": {"name": "l", "uid": "u"}, "spec": {"type": "Limited", "limited": {}}}
    schema = {
        "metadata": {"name": "s", "uid": "su"},
        "spec": {
            "priorityLevelConfiguration": {"name": "l"},
            "matchingPrecedence": 10,
            "distinguisherMethod": {"type": "ByNamespace"},
            "rules": [
                {
                    "subjects": [
                        {"kind": "ServiceAccount", "serviceAccount": {"name": "*", "namespace": "ns"}}
                    ],
                    "resourceRules": [
                        {
                            "verbs": ["get"],
                            "apiGroups": ["apps"],
                            "resources": ["deployments"],
                            "namespaces": ["a"],
                        }
                    ],
                    "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/apis/*"]}],
                }
            ],
        },
    }
    dangling = {
        "metadata": {"name": "a-dangling", "uid": "d"},
        "spec": {"priorityLevelConfiguration": {"name": "missing"}, "matchingPrecedence": 1, "rules": []},
    }
    classifier.refresh([schema, dangling], [level])
    sa = UserInfo("system:serviceaccount:ns:x", ())
    other_sa = UserInfo("system:serviceaccount:other:x", ())
    found = classifier.classify(sa, _ri("get", "deployments", "a", "apps"), "GET", "")
    assert found is not None and found.schema.name == "s" and found.flow == "s\x00a"
    assert classifier.classify(sa, _ri("get", "deployments", "b", "apps"), "GET", "") is None
    assert (
        classifier.classify(sa, _ri("get", "deployments", "", "apps"), "GET", "") is None
    )  # no clusterScope
    assert classifier.classify(sa, _ri("list", "deployments", "a", "apps"), "GET", "") is None
    assert classifier.classify(other_sa, _ri("get", "deployments", "a", "apps"), "GET", "") is None
    assert classifier.classify(sa, None, "GET", "/apis/apps") is not None
    assert classifier.classify(sa, None, "GET", "/apis") is None
    assert classifier.classify(sa, None, "GET", "/api/v1") is None


def test_remembered_classification_follows_the_objects_and_the_request() -> None:
    """A request shape classified once is answered from memory, per user, namespace and path,
    until the objects change: a new schema taking alice's lists wins from then on."""
    classifier = _classifier()
    alice, bob = UserInfo("alice", (AUTH,)), UserInfo("bob", (AUTH,))
    first = classifier.classify(alice, _ri("list", "pods", "app"), "GET", "")
    assert first is not None and first.schema.name == "global-default" and first.flow.endswith("alice")
    assert classifier.classify(alice, _ri("list", "pods", "app"), "GET", "") is first
    other = classifier.classify(bob, _ri("list", "pods", "app"), "GET", "")
    assert other is not None and other.flow.endswith("bob")
    probe = classifier.classify(alice, None, "GET", "/healthz")
    assert probe is not None and probe.schema.name == "probes"
    posted = classifier.classify(alice, None, "POST", "/healthz")
    assert posted is not None and posted.schema.name == "global-default"
    schemas = _with_uids(mandatory_flow_schemas() + suggested_flow_schemas(), "fs")
    levels = _with_uids(mandatory_priority_levels() + suggested_priority_levels(), "pl")
    schemas.append({
        "metadata": {"name": "alice-lists", "uid": "al"},
        "spec": {"priorityLevelConfiguration": {"name": "workload-low"}, "matchingPrecedence": 100,
                 "rules": [{"subjects": [{"kind": "User", "user": {"name": "alice"}}],
                            "resourceRules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"],
                                               "namespaces": ["*"]}]}]},
    })
    classifier.refresh(schemas, levels)
    now = classifier.classify(alice, _ri("list", "pods", "app"), "GET", "")
    assert now is not None and now.schema.name == "alice-lists" and now.level.name == "workload-low"
    again = classifier.classify(bob, _ri("list", "pods", "app"), "GET", "")
    assert again is not None and again.schema.name == "global-default"


def test_controller_reads_the_objects_again_only_when_they_change() -> None:
    schemas = _with_uids(mandatory_flow_schemas() + suggested_flow_schemas(), "fs")
    levels = _with_uids(mandatory_priority_levels() + suggested_priority_levels(), "pl")
    reads: list[str] = []
    mark = {"n": 0}

    def lookup(prefix: str) -> list[dict[str, Any]]:
        reads.append(prefix)
        return list(schemas) if "flowschemas" in prefix else list(levels)

    controller = Controller(lookup, 600, changes=lambda prefix: mark["n"])
    alice = UserInfo("alice", (AUTH,))
    for _ in range(3):
        found = controller.classify(alice, _ri("list", "pods", "app"), "GET", "")
        assert found is not None and found.schema.name == "global-default"
    assert len(reads) == 2  # the schemas and the levels, once
    schemas[:] = [s for s in schemas if s["metadata"]["name"] != "global-default"]
    mark["n"] += 1
    found = controller.classify(alice, _ri("list", "pods", "app"), "GET", "")
    assert len(reads) == 4
    assert found is not None and found.schema.name == "catch-all"


def test_shuffle_sharding_deals_distinct_stable_hands() -> None:
    hand = deal_hand("global-default\x00alice", 128, 6)
    assert hand == deal_hand("global-default\x00alice", 128, 6)
    assert len(set(hand)) == 6 and all(0 <= q < 128 for q in hand)
    assert deal_hand("a", 4, 4) != [] and sorted(deal_hand("a", 4, 4)) == [0, 1, 2, 3]
    hands = {tuple(deal_hand(f"flow-{i}", 64, 6)) for i in range(50)}
    assert len(hands) == 50


def test_nominal_seats_share_the_server_limit() -> None:
    total = 5 + 30 + 40 + 10 + 40 + 100 + 20  # the bootstrap levels' shares
    assert nominal_seats(600, 20, total) == 49
    assert nominal_seats(600, 5, total) == 13
    assert nominal_seats(600, 100, total) == 245


def _level(queues: int = 2, hand: int = 1, limit: int = 2) -> Level:
    return Level("l", "u", False, 1, queues, hand, limit)


def test_seats_queues_and_rejections() -> None:
    async def scenario() -> None:
        state = LevelState(_level(), 1)
        assert state.try_start() and not state.try_start()
        first = state.enqueue("flow-a")
        second = state.enqueue("flow-a")
        assert first is not None and second is not None
        assert state.enqueue("flow-a") is None  # the flow's only queue holds 2
        assert state.rejected == {"queue-full": 1}
        state.finish()
        assert first.done() and not second.done() and state.executing == 1
        state.give_up(second)
        assert state.waiting == 0 and state.rejected["time-out"] == 1
        reject = LevelState(Level("r", "u", False, 1, 0, 0, 0), 1)
        assert reject.try_start() and reject.enqueue("f") is None
        assert reject.rejected == {"concurrency-limit": 1}
        exempt = LevelState(Level("e", "u", True, 0, 0, 0, 0), 0)
        assert all(exempt.try_start() for _ in range(100))

    asyncio.run(scenario())


def test_freed_seats_rotate_across_queues() -> None:
    async def scenario() -> None:
        state = LevelState(_level(queues=8, hand=1, limit=10), 1)
        assert state.try_start()
        flows = ["a", "b"]
        while deal_hand("a", 8, 1) == deal_hand(flows[1], 8, 1):
            flows[1] += "x"
        heavy = [state.enqueue(flows[0]) for _ in range(5)]
        light = state.enqueue(flows[1])
        assert light is not None
        state.finish()
        state.finish()
        assert light.done() and sum(1 for w in heavy if w is not None and w.done()) == 1

    asyncio.run(scenario())


def test_autoupdate_annotation_and_long_running_bypass() -> None:
    key = "apf.kubernetes.io/autoupdate-spec"
    assert should_update_suggested({"metadata": {"annotations": {key: "true"}, "generation": 4}})
    assert not should_update_suggested({"metadata": {"annotations": {key: "false"}, "generation": 1}})
    assert should_update_suggested({"metadata": {"generation": 1}})
    assert not should_update_suggested({"metadata": {"annotations": {key: "maybe"}, "generation": 2}})
    assert bypasses(_ri("create", "pods", "a", sub="exec")) and bypasses(_ri("get", "pods", "a", sub="log"))
    assert not bypasses(_ri("watch", "pods", "a")) and not bypasses(None)


def _controller(server_limit: int = 600) -> tuple[Controller, dict[str, Any], list[dict[str, Any]]]:
    schemas = _with_uids(mandatory_flow_schemas() + suggested_flow_schemas(), "fs")
    levels = _with_uids(mandatory_priority_levels() + suggested_priority_levels(), "pl")
    mark = {"n": 0}
    objects = {"schemas": schemas, "levels": levels}

    def lookup(prefix: str) -> list[dict[str, Any]]:
        return list(objects["schemas"] if "flowschemas" in prefix else objects["levels"])

    return Controller(lookup, server_limit, changes=lambda prefix: mark["n"]), mark, schemas


def test_seated_at_once_counts_as_a_queued_request_does() -> None:
    """The fast path (a free seat) leaves what the queued path leaves: the headers, one
    dispatch, a zero wait in the first bucket, the seat held only during the call and the
    request's ticket (for the debug dumps) while it holds it."""
    async def scenario() -> None:
        controller, _, _ = _controller(server_limit=1)  # one seat per limited level
        alice = UserInfo("alice", (AUTH,))
        ri = _ri("create", "configmaps", "app")
        pair = ("global-default", "global-default")
        gate = asyncio.Event()
        seen: list[tuple[int, list[Any]]] = []

        async def held() -> str:
            state = controller.states["global-default"]
            seen.append((state.executing, list(state.seated)))
            await gate.wait()
            return "first"

        async def quick() -> str:
            return "second"

        first_headers: dict[str, str] = {}
        second_headers: dict[str, str] = {}
        serve = controller.serve
        first = asyncio.ensure_future(serve(alice, ri, "POST", "/p", first_headers, held, _refuse))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(serve(alice, ri, "POST", "/p", second_headers, quick, _refuse))
        await asyncio.sleep(0.01)
        assert not second.done() and controller.metrics.inqueue[pair] == 1
        gate.set()
        assert await first == "first" and await second == "second"
        assert first_headers == second_headers == {
            "X-Kubernetes-PF-FlowSchema-UID": "fs-global-default",
            "X-Kubernetes-PF-PriorityLevel-UID": "pl-global-default",
        }
        executing, tickets = seen[0]
        assert executing == 1 and len(tickets) == 1
        ticket = tickets[0]
        assert (ticket.flow_schema, ticket.distinguisher, ticket.user, ticket.verb, ticket.queue) == (
            "global-default", "alice", "alice", "create", -1)
        assert ticket.started_ns == ticket.arrived_ns > 0
        metrics = controller.metrics
        assert metrics.dispatched[pair] == 2 and metrics.executing[pair] == 0 and metrics.inqueue[pair] == 0
        waits = metrics.waits[("true", *pair)]
        assert waits.counts[0] == 1 and sum(waits.counts) == 2 and waits.total > 0
        state = controller.states["global-default"]
        assert state.executing == 0 and not state.seated and state.dispatched == 2

    asyncio.run(scenario())


def _refuse(retry_after: int) -> str:
    return f"429 {retry_after}"


def test_remembered_routes_follow_the_objects() -> None:
    """A request shape served before is served from its route until the objects change: a
    new schema taking alice's creates, and a level whose seats changed, are used at once."""
    async def scenario() -> None:
        controller, mark, schemas = _controller()
        alice = UserInfo("alice", (AUTH,))
        ri = _ri("create", "configmaps", "app")

        async def call() -> str:
            return "ok"

        headers: dict[str, str] = {}
        for _ in range(3):
            assert await controller.serve(alice, ri, "POST", "/p", headers, call, _refuse) == "ok"
        assert headers["X-Kubernetes-PF-FlowSchema-UID"] == "fs-global-default"
        schemas.append({
            "metadata": {"name": "alice-creates", "uid": "ac"},
            "spec": {"priorityLevelConfiguration": {"name": "workload-low"}, "matchingPrecedence": 100,
                     "rules": [{"subjects": [{"kind": "User", "user": {"name": "alice"}}],
                                "resourceRules": [{"verbs": ["create"], "apiGroups": [""],
                                                   "resources": ["configmaps"], "namespaces": ["*"]}]}]},
        })
        mark["n"] += 1
        headers = {}
        assert await controller.serve(alice, ri, "POST", "/p", headers, call, _refuse) == "ok"
        assert headers == {"X-Kubernetes-PF-FlowSchema-UID": "ac",
                           "X-Kubernetes-PF-PriorityLevel-UID": "pl-workload-low"}
        assert controller.metrics.dispatched == {("global-default", "global-default"): 3,
                                                 ("alice-creates", "workload-low"): 1}
        assert controller.states["workload-low"].dispatched == 1
        watch = _ri("watch", "configmaps", "app")

        async def watching() -> int:
            return controller.states["global-default"].executing

        assert await controller.serve(alice, watch, "GET", "/p", {}, watching, _refuse) == 0  # no seat held

    asyncio.run(scenario())


def test_a_queued_requests_wait_is_counted_outside_its_sli_latency() -> None:
    """A request that waited for a seat has that wait counted where the front reads it
    (``waited_outside``) for the SLI histogram; one seated at once counts nothing."""
    from kprov.cluster.apiserver.request.latency import waited_outside

    async def scenario() -> None:
        controller, _, _ = _controller(server_limit=1)
        alice = UserInfo("alice", (AUTH,))
        ri = _ri("create", "configmaps", "app")
        gate = asyncio.Event()

        async def held() -> float:
            await gate.wait()
            return waited_outside()

        async def quick() -> float:
            return waited_outside()

        async def request(call: Any) -> float:  # (a task per request, as the front's)
            before = waited_outside()
            await controller.serve(alice, ri, "POST", "/p", {}, call, _refuse)
            return waited_outside() - before

        first = asyncio.ensure_future(request(held))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(request(quick))
        await asyncio.sleep(0.05)
        gate.set()
        assert await first == 0.0
        assert 0.04 <= await second < 5.0
        assert waited_outside() == 0.0  # (this task's context: the requests' own were apart)

    asyncio.run(scenario())
