"""`kprov verify`'s Gateway rows: which Gateways, which probes, how answers are judged (pure),
and the whole row set against a fake API and a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from aiohttp import web

from kprov.cluster.client import ApiError
from kprov.cluster.client.resources import Resource
from kprov.cluster.ingress.gateway.crds import GATEWAY_CLASSES, GATEWAYS
from kprov.deploy.verify.gateway_checks import (
    DEFAULT_CONTROLLER,
    ListenerProbe,
    check_gateways,
    gateway_probes,
    judge_answer,
    judge_programmed,
    ours,
)

Obj = dict[str, Any]


def _cond(kind: str, status: str, reason: str, message: str = "") -> Obj:
    return {"type": kind, "status": status, "reason": reason, "message": message}


def _gateway(name: str = "web", cls: str = "kprov", addresses: tuple[str, ...] = ("10.77.8.14", "10.77.8.15"),
             programmed: bool = True, listeners: tuple[tuple[str, str, int, bool], ...] = (
                 ("http", "HTTP", 80, True), ("https", "HTTPS", 443, True))) -> Obj:
    return {
        "metadata": {"namespace": "shop", "name": name},
        "spec": {"gatewayClassName": cls,
                 "listeners": [{"name": n, "protocol": p, "port": port} for n, p, port, _ in listeners]},
        "status": {
            "addresses": [{"type": "IPAddress", "value": a} for a in addresses],
            "conditions": [_cond("Accepted", "True", "Accepted"),
                           _cond("Programmed", "True", "Programmed") if programmed
                           else _cond("Programmed", "False", "AddressNotAssigned", "no live instance")],
            "listeners": [{"name": n, "conditions": [
                _cond("Programmed", "True", "Programmed") if ok
                else _cond("Programmed", "False", "Invalid", "port 22 is in use on the nodes")]}
                for n, _, _, ok in listeners],
        },
    }


def _class(name: str, controller: str) -> Obj:
    return {"metadata": {"name": name}, "spec": {"controllerName": controller}}


def test_only_gateways_of_a_class_naming_our_controller() -> None:
    classes = [_class("kprov", DEFAULT_CONTROLLER), _class("envoy", "gateway.envoyproxy.io/controller")]
    gateways = [_gateway("b"), _gateway("theirs", cls="envoy"), _gateway("a"), _gateway("orphan", cls="gone")]
    assert [g["metadata"]["name"] for g in ours(gateways, classes, DEFAULT_CONTROLLER)] == ["a", "b"]


def test_programmed_row() -> None:
    good = judge_programmed(_gateway())
    assert (good.ok, good.name) == (True, "Gateway shop/web Programmed")
    assert "10.77.8.14, 10.77.8.15" in good.detail
    bad = judge_programmed(_gateway(programmed=False))
    assert not bad.ok
    assert "Programmed=False AddressNotAssigned: no live instance" in bad.detail
    assert "kubectl describe gateway -n shop web" in bad.detail
    fresh = _gateway()
    del fresh["status"]
    assert not judge_programmed(fresh).ok


def test_one_probe_per_listener_and_address() -> None:
    probes = gateway_probes(_gateway())
    assert [p.url for p in probes] == ["http://10.77.8.14:80/", "http://10.77.8.15:80/",
                                       "https://10.77.8.14:443/", "https://10.77.8.15:443/"]
    assert all(not p.refused for p in probes)
    assert probes[0].name == "Gateway shop/web listener http answers from outside (http://10.77.8.14:80/)"
    assert gateway_probes(_gateway(addresses=())) == []
    assert gateway_probes(_gateway(addresses=("fd00::4",)))[0].url == "http://[fd00::4]:80/"


def test_a_listener_not_programmed_fails_without_asking() -> None:
    probes = gateway_probes(_gateway(listeners=(("ssh", "HTTP", 22, False),), addresses=("10.77.8.14",)))
    [probe] = probes
    assert "listener not Programmed (Invalid: port 22 is in use on the nodes)" in probe.refused
    check = judge_answer(probe, 404, "404 page not found", "h4")
    assert not check.ok and "kubectl describe gateway -n shop web" in check.detail


@pytest.mark.parametrize("status, body, ok", [
    (404, "404 page not found\n", True),
    (404, "<html>nginx</html>", False),  # someone else's proxy on the port
    (200, "hello", False),
    (503, "", False),
    (None, "Connection refused", False),
])
def test_only_our_404_passes(status: int | None, body: str, ok: bool) -> None:
    probe = ListenerProbe("shop/web", "alt", "HTTP", "10.77.8.14", 8088)
    check = judge_answer(probe, status, body, "h4")
    assert check.ok is ok
    if not ok:
        assert "worker h4 (10.77.8.14)" in check.detail and "port 8088" in check.detail
        assert (body.strip()[:20] or str(status)) in check.detail


class _FakeClient:
    def __init__(self, items: dict[str, list[Obj]] | None) -> None:
        self.items = items

    async def list_all(self, res: Resource) -> tuple[list[Obj], str]:
        if self.items is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return self.items[res.plural], "1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _rows(client: _FakeClient, host_vars: dict[str, dict[str, Any]] | None = None) -> list[Any]:
    hv = host_vars if host_vars is not None else {"h4": {"ansible_host": "127.0.0.1"}}
    return await check_gateways(client, ["h4"], hv)  # type: ignore[arg-type]


async def _not_found(_: web.Request) -> web.Response:
    return web.Response(status=404, text="404 page not found\n")


def test_rows_against_a_real_listener_and_a_closed_port() -> None:
    async def main() -> list[Any]:
        app = web.Application()
        app.router.add_get("/", _not_found)
        runner = web.AppRunner(app)
        await runner.setup()
        port, closed = _free_port(), _free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            gateway = _gateway(addresses=("127.0.0.1",),
                               listeners=(("http", "HTTP", port, True), ("alt", "HTTP", closed, True)))
            classes = [_class("kprov", DEFAULT_CONTROLLER)]
            items = {GATEWAY_CLASSES.plural: classes, GATEWAYS.plural: [gateway]}
            return await _rows(_FakeClient(items))
        finally:
            await runner.cleanup()

    rows = asyncio.run(main())
    assert [(r.name.split(" (")[0], r.ok) for r in rows] == [
        ("Gateway shop/web Programmed", True),
        ("Gateway shop/web listener http answers from outside", True),
        ("Gateway shop/web listener alt answers from outside", False),
    ]
    assert "no answer" in rows[2].detail and "worker h4 (127.0.0.1)" in rows[2].detail


def test_no_gateway_passes_and_no_gateway_api_or_turned_off_has_no_rows() -> None:
    empty = {GATEWAY_CLASSES.plural: [_class("kprov", DEFAULT_CONTROLLER)], GATEWAYS.plural: []}
    [row] = asyncio.run(_rows(_FakeClient(empty)))
    assert row.ok and DEFAULT_CONTROLLER in row.detail
    assert asyncio.run(_rows(_FakeClient(None))) == []
    off = {"h4": {"ansible_host": "127.0.0.1", "gateway_controller_name": ""}}
    assert asyncio.run(_rows(_FakeClient(empty), off)) == []
