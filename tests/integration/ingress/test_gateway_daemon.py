"""kprov-ingress's Gateway API against a real API server and a real HAProxy, on loopback.

The daemon, under its own identity (so the bootstrap RBAC is what is tested), installs
kprov's CRDs and ships the GatewayClass kprov naming its controller (the test writes no
class), serves a Gateway's two HTTP listeners (one on the Ingress's HTTP port, one on a
port of its own) and an HTTPRoute by hostname, path prefix and header, with weighted
backends; statuses: the class Accepted, the Gateway Accepted and Programmed with the
instance's address, the route Accepted with ResolvedRefs, and RefNotPermitted for another
namespace's Service without a ReferenceGrant.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kprov.cluster.client.resources import ENDPOINTSLICES, SECRETS, SERVICES
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.ingress.daemon import IngressDaemon, IngressOptions
from kprov.cluster.ingress.gateway.crds import GATEWAY_CLASSES, GATEWAYS, HTTP_ROUTES
from kprov.cluster.ingress.haproxy_config import ProxySettings
from kprov.cluster.ingress.presence import PresenceOptions
from tests.integration.conftest import ControlPlane
from tests.integration.ingress.test_ingress_daemon import (
    NS,
    _backend,
    _free_port,
    _get,
    _peer_cn,
    _service,
    _slice,
    _tls_secret,
    _until,
)

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")

CONTROLLER = "kprov.io/gateway-controller"


@pytest.fixture
async def served(
    control_plane: ControlPlane, tmp_path: Path
) -> AsyncIterator[tuple[ApiClient, int, int, int]]:
    admin = ApiClient.from_kubeconfig(str(control_plane.admin_kubeconfig))
    own = ApiClient.from_kubeconfig(str(control_plane.kubeconfig_for("system:kprov:ingress-controller")))
    runners = []
    for name in ("one", "two"):
        runner, port = await _backend(name)
        runners.append(runner)
        await admin.create(SERVICES, _service(name))
        await admin.create(ENDPOINTSLICES, _slice(name, port))
    await admin.create(SECRETS, _tls_secret("a.g.example"))
    http, extra, https = _free_port(), _free_port(), _free_port()
    settings = ProxySettings(
        http_bind=f"127.0.0.1:{http}",
        https_bind=f"127.0.0.1:{https}",
        monitor_bind=f"127.0.0.1:{_free_port()}",
        admin_socket=str(tmp_path / "admin.sock"),
        default_certificate=str(tmp_path / "default.pem"),
        crt_list=str(tmp_path / "crt-list"),
    )
    options = IngressOptions(
        presence=PresenceOptions("gateway-test-node", "192.0.2.20"),
        state_dir=tmp_path,
        http_address=f"127.0.0.1:{_free_port()}",
        settings=settings,
        gateway_controller_name=CONTROLLER,
        ensure_gateway_crds=True,
    )
    task = asyncio.create_task(IngressDaemon(own, options).run())
    try:
        yield admin, http, extra, https
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for runner in runners:
            await runner.cleanup()
        cleanup = [
            (SERVICES, "one", NS),
            (SERVICES, "two", NS),
            (ENDPOINTSLICES, "one-x", NS),
            (ENDPOINTSLICES, "two-x", NS),
            (HTTP_ROUTES, "web", NS),
            (HTTP_ROUTES, "elsewhere", NS),
            (GATEWAYS, "gw", NS),
            (GATEWAY_CLASSES, "kprov", None),
            (SECRETS, "secure-tls", NS),
        ]
        for res, name, namespace in cleanup:
            with contextlib.suppress(Exception):
                await admin.delete(res, name, namespace)
        await own.close()
        await admin.close()


def _conditions(obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in obj.get("conditions") or []}


async def test_gateway_and_httproute_are_served_with_their_statuses(
    served: tuple[ApiClient, int, int, int],
) -> None:
    admin, http, extra, https = served

    async def crds_served() -> bool:
        await admin.list(GATEWAY_CLASSES)
        return True

    await _until("the Gateway API CRDs served", crds_served, 30)

    async def class_shipped() -> bool:  # no GatewayClass written here: the controller ships kprov
        return (await admin.get(GATEWAY_CLASSES, "kprov"))["spec"]["controllerName"] == CONTROLLER

    await _until("the GatewayClass kprov shipped", class_shipped, 30)
    await admin.create(
        GATEWAYS,
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "gw", "namespace": NS},
            "spec": {
                "gatewayClassName": "kprov",
                "listeners": [
                    {"name": "http", "port": http, "protocol": "HTTP"},
                    {"name": "extra", "port": extra, "protocol": "HTTP", "hostname": "*.g.example"},
                    {
                        "name": "https",
                        "port": https,
                        "protocol": "HTTPS",
                        "hostname": "*.g.example",
                        "tls": {"certificateRefs": [{"name": "secure-tls"}]},
                    },
                ],
            },
        },
    )
    await admin.create(
        HTTP_ROUTES,
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "parentRefs": [{"name": "gw"}],
                "hostnames": ["a.g.example"],
                "rules": [
                    {"backendRefs": [{"name": "one", "port": 80}]},
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
                        "backendRefs": [
                            {"name": "two", "port": 80, "weight": 1},
                            {"name": "one", "port": 80, "weight": 0},
                        ],
                    },
                    {
                        "matches": [{"headers": [{"name": "X-Canary", "value": "yes"}]}],
                        "backendRefs": [{"name": "two", "port": 80}],
                    },
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/old"}}],
                        "filters": [
                            {
                                "type": "RequestRedirect",
                                "requestRedirect": {"hostname": "new.example", "statusCode": 301},
                            }
                        ],
                    },
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/tagged"}}],
                        "filters": [
                            {
                                "type": "ResponseHeaderModifier",
                                "responseHeaderModifier": {
                                    "set": [{"name": "X-Served-By", "value": "kprov"}]
                                },
                            }
                        ],
                        "backendRefs": [{"name": "one", "port": 80}],
                    },
                ],
            },
        },
    )
    await admin.create(
        HTTP_ROUTES,
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "elsewhere", "namespace": NS},
            "spec": {
                "parentRefs": [{"name": "gw", "sectionName": "http"}],
                "hostnames": ["x.example"],
                "rules": [{"backendRefs": [{"name": "one", "namespace": "kube-system", "port": 80}]}],
            },
        },
    )

    async def routed() -> bool:
        return await _get(http, "a.g.example", "/api/v1") == (200, "two /api/v1")

    await _until("a.g.example/api routed to two", routed)
    assert await _get(http, "a.g.example", "/apis") == (200, "one /apis")
    assert await _get(extra, "a.g.example", "/") == (200, "one /")
    assert await _get(http, "b.example", "/") == (404, "404 page not found")
    assert await _get(http, "x.example", "/") == (500, "no backend")

    async def statuses() -> bool:
        gateway_class = await admin.get(GATEWAY_CLASSES, "kprov")
        gateway = await admin.get(GATEWAYS, "gw", NS)
        route = await admin.get(HTTP_ROUTES, "web", NS)
        other = await admin.get(HTTP_ROUTES, "elsewhere", NS)
        status = gateway.get("status") or {}
        parents = (route.get("status") or {}).get("parents") or []
        others = (other.get("status") or {}).get("parents") or []
        return (
            _conditions(gateway_class.get("status") or {})["Accepted"] == ("True", "Accepted")
            and _conditions(status)["Programmed"] == ("True", "Programmed")
            and status.get("addresses") == [{"type": "IPAddress", "value": "192.0.2.20"}]
            and [x["attachedRoutes"] for x in status["listeners"]] == [2, 1, 1]
            and len(parents) == 1
            and parents[0]["controllerName"] == CONTROLLER
            and _conditions(parents[0])["Accepted"] == ("True", "Accepted")
            and _conditions(parents[0])["ResolvedRefs"] == ("True", "ResolvedRefs")
            and len(others) == 1
            and _conditions(others[0])["ResolvedRefs"] == ("False", "RefNotPermitted")
        )

    await _until("the statuses written", statuses)
    headed = await _get_with(http, "a.g.example", "/", {"X-Canary": "yes"})
    assert headed == (200, "two /")
    assert await _get_tls(https, "a.g.example", "/api/x") == (200, "two /api/x")
    assert _peer_cn(https, "a.g.example") == "a.g.example"  # the listener's Secret, by SNI
    # filters: a redirect (the listener's port kept, not 80) and a response header set
    status, headers = await _head(http, "a.g.example", "/old/page?q=1")
    assert (status, headers.get("Location")) == (301, f"http://new.example:{http}/old/page?q=1")
    status, headers = await _head(http, "a.g.example", "/tagged/x")
    assert (status, headers.get("X-Served-By")) == (200, "kprov")


async def _head(port: int, host: str, path: str) -> tuple[int, Mapping[str, str]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"http://127.0.0.1:{port}{path}",
            headers={"Host": host},
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=3),
        ) as reply,
    ):
        return reply.status, reply.headers.copy()  # case-insensitive (HAProxy sends lower case)


async def _get_with(port: int, host: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"http://127.0.0.1:{port}{path}",
            headers={"Host": host, **headers},
            timeout=aiohttp.ClientTimeout(total=3),
        ) as reply,
    ):
        return reply.status, (await reply.text()).strip()


async def _get_tls(port: int, host: str, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"https://127.0.0.1:{port}{path}",
            headers={"Host": host},
            ssl=False,
            timeout=aiohttp.ClientTimeout(total=3),
        ) as reply,
    ):
        return reply.status, (await reply.text()).strip()
