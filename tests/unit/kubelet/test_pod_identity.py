"""The kubelet's side of pod identity: the ..data atomic writer, service variables, the
ServiceAccount token manager (bound TokenRequests, refresh at 80% of the lifetime)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from kprov.cluster.kubelet.pods.servicelinks import service_env
from kprov.cluster.kubelet.volumes.atomic_writer import DATA_DIR_NAME, write_atomic
from kprov.cluster.kubelet.volumes.satokens import PodTokens


def test_atomic_writer_layout_and_swap(tmp_path: Path) -> None:
    assert write_atomic(tmp_path, {"token": (b"t1", 0o644), "sub/ca.crt": (b"ca", 0o600)})
    data = tmp_path / DATA_DIR_NAME
    assert data.is_symlink() and os.readlink(data).startswith("..20")
    assert os.readlink(tmp_path / "token") == "..data/token"
    assert (tmp_path / "token").read_bytes() == b"t1"
    assert (tmp_path / "sub" / "ca.crt").read_bytes() == b"ca"
    assert ((tmp_path / "sub" / "ca.crt").stat().st_mode & 0o777) == 0o600
    first = os.readlink(data)
    assert not write_atomic(tmp_path, {"token": (b"t1", 0o644), "sub/ca.crt": (b"ca", 0o600)})
    assert os.readlink(data) == first  # unchanged content: nothing rewritten
    assert write_atomic(tmp_path, {"token": (b"t2", 0o644)})
    assert os.readlink(data) != first and (tmp_path / "token").read_bytes() == b"t2"
    assert not (tmp_path / "sub").exists() and not (tmp_path / first).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([DATA_DIR_NAME, os.readlink(data), "token"])


def test_atomic_writer_refuses_escapes(tmp_path: Path) -> None:
    for bad in ("../x", "/etc/x", "..data"):
        with pytest.raises(ValueError):
            write_atomic(tmp_path / "v", {bad: (b"", 0o644)})


def _svc(name: str, ip: str, ports: list[dict[str, Any]], ns: str = "app") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"clusterIP": ip, "ports": ports}}


MASTER = _svc("kubernetes", "10.96.0.1", [{"name": "https", "port": 443, "protocol": "TCP"}], "default")


def test_service_env_master_always_and_links_by_flag() -> None:
    web = _svc(
        "my-web",
        "10.96.0.20",
        [{"name": "http-alt", "port": 8080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
    )
    headless = _svc("db", "None", [{"port": 5432}])
    env = service_env("app", True, MASTER, [web, headless])
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "443"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"
    assert env["KUBERNETES_PORT"] == "tcp://10.96.0.1:443"
    assert env["KUBERNETES_PORT_443_TCP_ADDR"] == "10.96.0.1"
    assert env["MY_WEB_SERVICE_HOST"] == "10.96.0.20"
    assert env["MY_WEB_SERVICE_PORT_HTTP_ALT"] == "8080"
    assert env["MY_WEB_PORT_53_UDP"] == "udp://10.96.0.20:53"
    assert env["MY_WEB_PORT_53_UDP_PROTO"] == "udp"
    assert not any(k.startswith("DB_") for k in env)
    off = service_env("app", False, MASTER, [web])
    assert "MY_WEB_SERVICE_HOST" not in off and off["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"


POD = {
    "metadata": {"name": "p", "namespace": "app", "uid": "u1"},
    "spec": {"serviceAccountName": "robot"},
}


def test_tokens_requested_bound_and_refreshed_at_80_percent() -> None:
    now = [1000.0]
    calls: list[tuple[str, str, dict[str, Any]]] = []

    async def request(ns: str, account: str, body: dict[str, Any]) -> dict[str, Any]:
        calls.append((ns, account, body))
        return {"status": {"token": f"t{len(calls)}", "expirationTimestamp": "1970-01-01T01:16:40Z"}}  # 4600

    tokens = PodTokens(request, clock=lambda: now[0])
    projections = [("kube-api-access-x", {"path": "token", "expirationSeconds": 3600})]
    got = asyncio.run(tokens.fetch(POD, projections))
    assert got == {("kube-api-access-x", "token"): b"t1"}
    ns, account, body = calls[0]
    assert (ns, account) == ("app", "robot")
    assert body["spec"]["boundObjectRef"] == {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u1"}
    assert body["spec"]["expirationSeconds"] == 3600 and "audiences" not in body["spec"]
    assert tokens.next_refresh_in() == pytest.approx(2880)
    now[0] += 2879
    asyncio.run(tokens.fetch(POD, projections))
    assert len(calls) == 1
    now[0] += 2
    assert asyncio.run(tokens.fetch(POD, projections))[("kube-api-access-x", "token")] == b"t2"


def test_token_audience_is_passed() -> None:
    calls: list[dict[str, Any]] = []

    async def request(ns: str, account: str, body: dict[str, Any]) -> dict[str, Any]:
        calls.append(body)
        return {"status": {"token": "t"}}

    asyncio.run(PodTokens(request).fetch(POD, [("v", {"path": "vault", "audience": "vault"})]))
    assert calls[0]["spec"]["audiences"] == ["vault"]
