"""One split of a Service's node ports, for a create and an update: the ones asked for by
number (claimed first, each naming its field) and the ones that take any free port."""

from __future__ import annotations

import asyncio
from typing import Any

from kprov.cluster.api.errors import InvalidError
from kprov.cluster.apiserver.allocators import Allocators, _split_node_ports
from tests.unit.apiserver.test_lb_node_ports import _Cache, _Store


def _spec(**extra: Any) -> dict[str, Any]:
    ports = [{"port": 80}, {"port": 81, "nodePort": 30050}, {"port": 82, "nodePort": 30060}]
    return {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": ports, **extra}


def test_a_create_asks_for_every_explicit_port_then_the_health_check() -> None:
    split = _split_node_ports(_spec(healthCheckNodePort=30070))
    assert split.asked == [(30050, "spec.ports[1].nodePort"), (30060, "spec.ports[2].nodePort"),
                           (30070, "spec.healthCheckNodePort")]
    assert split.any_ports == [0] and not split.any_check


def test_an_update_does_not_ask_again_for_what_it_keeps() -> None:
    split = _split_node_ports(_spec(healthCheckNodePort=30070), {30050}, 30070)
    assert split.asked == [(30060, "spec.ports[2].nodePort")]
    moved = _split_node_ports(_spec(healthCheckNodePort=30080), {30050}, 30070)
    assert moved.asked[-1] == (30080, "spec.healthCheckNodePort")


def test_without_a_health_check_port_one_is_picked() -> None:
    split = _split_node_ports(_spec())
    assert split.any_check and split.any_ports == [0]
    assert not _split_node_ports(_spec(externalTrafficPolicy="Cluster")).any_check


def test_a_cluster_ip_service_claims_no_node_port() -> None:
    split = _split_node_ports(_spec(type="ClusterIP"))
    assert split.asked == [] and split.any_ports == [] and not split.any_check


def test_an_update_moving_its_health_check_onto_a_taken_port_names_that_field() -> None:
    store = _Store()
    allocators = Allocators(store, _Cache(store), "10.96.0.0/24", (30000, 30100))  # type: ignore[arg-type]
    old = {"metadata": {"namespace": "default", "name": "web"}, "spec": _spec(healthCheckNodePort=30070)}
    asyncio.run(allocators.allocate_service(old, dry_run=False))
    new = {"metadata": {"namespace": "default", "name": "web"},
           "spec": {**_spec(healthCheckNodePort=30060), "clusterIP": old["spec"]["clusterIP"]}}
    new["spec"]["ports"][0]["nodePort"] = old["spec"]["ports"][0]["nodePort"]
    try:
        asyncio.run(allocators.update_service(old, new, dry_run=False))
    except InvalidError as exc:
        assert [c.field for c in exc.causes] == ["spec.healthCheckNodePort"], exc.causes
    else:
        raise AssertionError("30060 was given twice")
    assert "/registry/portallocations/30070" in store.keys  # nothing released on a refused update
