"""healthCheckNodePort: what each port reports on a node, and the listener answering it."""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp

from kprov.cluster.proxy.service_health import HealthCheck, ServiceHealthServers, health_checks, reply
from kprov.cluster.proxy.servicemap import Endpoint, ServicePort, service_ports
from tests.unit.proxy.objects import service


def _port(name: str, port_name: str, hc: int, *eps: Endpoint) -> ServicePort:
    return ServicePort("default", name, port_name, "tcp", ("10.96.0.10",), 80, endpoints=eps,
                       health_check_node_port=hc)


def test_local_endpoints_are_counted_once_per_service_and_only_on_this_node() -> None:
    a, b = Endpoint("10.244.1.2", 80, "n1"), Endpoint("10.244.1.3", 80, "n1")
    other = Endpoint("10.244.2.2", 80, "n2")
    ports = [_port("web", "http", 31000, a, b, other), _port("web", "https", 31000, a), _port("db", "", 0, a)]
    assert health_checks(ports, "n1") == {31000: HealthCheck("default", "web", 2)}
    assert health_checks(ports, "n3") == {31000: HealthCheck("default", "web", 0)}
    # a terminating endpoint still serving is not counted (upstream counts local ready ones)
    terminating = Endpoint("10.244.1.4", 80, "n1", ready=False)
    assert health_checks([_port("web", "http", 31000, terminating)], "n1") == {
        31000: HealthCheck("default", "web", 0)}


def test_reply_is_200_with_local_endpoints_else_503() -> None:
    status, body = reply(HealthCheck("default", "web", 2))
    assert status == 200
    assert json.loads(body) == {"service": {"namespace": "default", "name": "web"}, "localEndpoints": 2,
                                "serviceProxyHealthy": True}
    assert reply(HealthCheck("default", "web", 0))[0] == 503


def test_service_map_takes_the_port_only_for_local_load_balancers() -> None:
    svc = service("web", "10.96.0.10", type="LoadBalancer", externalTrafficPolicy="Local",
                  healthCheckNodePort=31000)
    assert service_ports([svc], [])[0].health_check_node_port == 31000
    svc["spec"]["externalTrafficPolicy"] = "Cluster"
    assert service_ports([svc], [])[0].health_check_node_port == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_servers_open_answer_and_close_listeners() -> None:
    async def scenario() -> tuple[int, int, bool]:
        servers, port = ServiceHealthServers("127.0.0.1"), 0
        for _ in range(5):  # another process may take a free port before the listener does
            port = _free_port()
            await servers.update({port: HealthCheck("default", "web", 1)})
            if port in servers.runners:
                break
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/") as r:
                first = r.status
            await servers.update({port: HealthCheck("default", "web", 0)})
            async with session.get(f"http://127.0.0.1:{port}/") as r:
                second = r.status
        await servers.close()
        with socket.socket() as sock:
            closed = sock.connect_ex(("127.0.0.1", port)) != 0
        return first, second, closed

    assert asyncio.run(scenario()) == (200, 503, True)
