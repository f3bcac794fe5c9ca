"""The layer-2 speaker's election on an in-memory API: one node announces an address, and
another takes it over when the first stops qualifying (the kernel side is faked)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from kprov.cluster.client.resources import EVENTS, LEASES
from kprov.cluster.proxy import announced_addresses, speaker
from kprov.cluster.proxy.speaker import L2Speaker, LeaseTimings
from tests.unit.client.fake_api import FakeApi

FAST = LeaseTimings(lease_duration=0.4, renew_deadline=0.25, retry_period=0.05)
ADDRESS = "10.77.4.200"
WEB = {"metadata": {"namespace": "default", "name": "web", "uid": "u1"}}


class EventsApi(FakeApi):
    """FakeApi plus the merge patch the event recorder sends for a repeated Event."""

    async def patch(self, res: Any, name: str, body: dict[str, Any], namespace: str | None = None) -> dict:
        obj = await self.get(res, name, namespace)
        obj.update(body)
        return obj


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    calls: list[tuple[str, ...]] = []

    def fake_ip(*args: str) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        if args[:2] == ("addr", "del"):
            time.sleep(0.1)  # as slow as a loaded node's `ip`: a flap's add can overtake it
        return subprocess.CompletedProcess(["ip", *args], 0, "", "")

    monkeypatch.setattr(announced_addresses, "_ip", fake_ip)
    monkeypatch.setattr(speaker, "interface_holding", lambda ip: "host6" if ":" in ip else "host0")
    monkeypatch.setattr(speaker, "send_announcement", lambda dev, ip: calls.append(("garp", dev, ip)))
    monkeypatch.setattr(speaker, "send_advertisement", lambda dev, ip: calls.append(("na", dev, ip)))
    monkeypatch.setattr(speaker, "GARP_REPEATS", (0.01,))
    return calls


async def _until(predicate: Any, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_one_node_announces_and_another_takes_over_when_it_stops_qualifying(
    tmp_path: Path, kernel: list[tuple[str, ...]]
) -> None:
    api = EventsApi()
    nodes = {name: L2Speaker(api, name, tmp_path / name, lambda _key: WEB, FAST)  # type: ignore[arg-type]
             for name in ("h1", "h2")}
    for name, node in nodes.items():
        await node.start()
        node.update({ADDRESS: ("default/web",)}, f"10.77.4.1{name[1]}")
    await _until(lambda: any(n.addresses.held() for n in nodes.values()))
    await asyncio.sleep(0.3)  # the loser keeps losing while the holder renews
    holders = [name for name, n in nodes.items() if n.addresses.held()]
    assert len(holders) == 1, holders
    first, second = holders[0], "h2" if holders[0] == "h1" else "h1"
    lease = await api.get(LEASES, "kprov-l2-10-77-4-200", "kube-system")
    assert lease["spec"]["holderIdentity"] == first
    await _until(lambda: api.objects.get(EVENTS.plural))
    event = next(iter(api.objects[EVENTS.plural].values()))
    assert (event["reason"], event["message"]) == (
        "nodeAssigned", f'announcing from node "{first}" with protocol "layer2"')
    assert ("garp", "host0", ADDRESS) in kernel

    nodes[first].update({}, "10.77.4.11")  # e.g. its local endpoint went away (policy Local)
    await _until(lambda: nodes[second].addresses.held() == {ADDRESS: "host0"}, timeout=5.0)  # a loaded CI
    assert nodes[first].addresses.held() == {}
    lease = await api.get(LEASES, "kprov-l2-10-77-4-200", "kube-system")
    assert lease["spec"]["holderIdentity"] == second and lease["spec"]["leaseTransitions"] == 1

    await nodes[second].close()
    assert nodes[second].addresses.held() == {}
    lease = await api.get(LEASES, "kprov-l2-10-77-4-200", "kube-system")
    assert lease["spec"]["holderIdentity"] == ""  # released on shutdown: the next node needs no wait
    await nodes[first].close()
    assert ("addr", "del", f"{ADDRESS}/32", "dev", "host0") in kernel


async def test_wanted_again_while_still_letting_go_ends_announced(
    tmp_path: Path, kernel: list[tuple[str, ...]]
) -> None:
    api = EventsApi()
    node = L2Speaker(api, "h1", tmp_path, lambda _key: WEB, FAST)  # type: ignore[arg-type]
    node.update({ADDRESS: ("default/web",)}, "10.77.4.11")
    await _until(lambda: node.addresses.held() == {ADDRESS: "host0"})
    node.update({}, "10.77.4.11")  # a flap: the endpoint went and came back at once
    node.update({ADDRESS: ("default/web",)}, "10.77.4.11")
    await asyncio.sleep(0.5)
    assert node.addresses.held() == {ADDRESS: "host0"}
    assert kernel[-1][:2] != ("addr", "del"), kernel
    await node.close()
    assert node.addresses.held() == {}


async def test_an_ipv6_address_goes_on_the_ipv6_interface_without_dad_and_is_advertised_by_ndp(
    tmp_path: Path, kernel: list[tuple[str, ...]]
) -> None:
    api = EventsApi()
    node = L2Speaker(api, "h1", tmp_path, lambda _key: WEB, FAST)  # type: ignore[arg-type]
    v6 = "fd77:77:4::200"
    node.update({ADDRESS: ("default/web",), v6: ("default/web",)}, "10.77.4.11", "fd77:77:4::11")
    await _until(lambda: node.addresses.held() == {ADDRESS: "host0", v6: "host6"})
    await _until(lambda: ("na", "host6", v6) in kernel and ("garp", "host0", ADDRESS) in kernel)
    assert ("addr", "replace", f"{v6}/128", "dev", "host6", "nodad") in kernel
    assert ("addr", "replace", f"{ADDRESS}/32", "dev", "host0") in kernel
    assert not any(call[0] == "garp" and call[2] == v6 for call in kernel)
    await node.close()
    assert ("addr", "del", f"{v6}/128", "dev", "host6") in kernel


async def test_an_ipv6_address_without_an_ipv6_node_address_is_not_announced(
    tmp_path: Path, kernel: list[tuple[str, ...]]
) -> None:
    api = EventsApi()
    node = L2Speaker(api, "h1", tmp_path, lambda _key: WEB, FAST)  # type: ignore[arg-type]
    node.update({"fd77:77:4::200": ("default/web",)}, "10.77.4.11")
    await asyncio.sleep(0.3)
    assert node.addresses.held() == {}
    await node.close()
