"""Ingress and Gateway listeners on both families: a listener without an address gets an
IPv6 twin (``v6only``), one with an address does not, and the real HAProxy serving the
rendered file answers on 127.0.0.1 and on ::1, for the Ingress frontends and a Gateway
listener's own port."""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from kprov.cluster.ingress.__main__ import build_parser, options_from
from kprov.cluster.ingress.certs import ensure_default_certificate
from kprov.cluster.ingress.haproxy_config import ProxySettings, bind_lines, render
from kprov.cluster.ingress.routes import PREFIX, BackendRef, Route, build_table


def test_bind_lines() -> None:
    assert bind_lines(":80", False) == ["    bind :80"]
    assert bind_lines(":80", True) == ["    bind :80", "    bind :::80 v6only"]
    assert bind_lines(":443", True, "ssl crt /d.pem") == ["    bind :443 ssl crt /d.pem",
                                                          "    bind :::443 v6only ssl crt /d.pem"]
    assert bind_lines("10.0.0.1:80", True) == ["    bind 10.0.0.1:80"]  # an address is kept alone


def test_the_flag_turns_ipv6_listeners_off() -> None:
    base = ["--kubeconfig", "/k"]
    assert not options_from(build_parser().parse_args([*base, "--disable-ipv6"])).settings.ipv6
    with socket.socket(socket.AF_INET6) as probe:
        try:
            probe.bind(("::1", 0))
            here = True
        except OSError:
            here = False
    assert options_from(build_parser().parse_args(base)).settings.ipv6 is here


def _free_port() -> int:
    with socket.socket(socket.AF_INET6) as s:  # free on both families' wildcard
        s.bind(("::", 0))
        return int(s.getsockname()[1])


def _get(host: str, port: int) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=2)
    try:
        connection.request("GET", "/", headers={"Host": "nothing.example"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="HAProxy is not installed here")
def test_haproxy_answers_on_both_families(tmp_path: Path) -> None:
    ensure_default_certificate(tmp_path / "default.pem")
    (tmp_path / "crt-list").write_text("")
    http_port, https_port, gateway_port, monitor_port = (_free_port() for _ in range(4))
    settings = ProxySettings(http_bind=f":{http_port}", https_bind=f":{https_port}",
                             monitor_bind=f"127.0.0.1:{monitor_port}",
                             admin_socket=str(tmp_path / "admin.sock"),
                             default_certificate=str(tmp_path / "default.pem"),
                             crt_list=str(tmp_path / "crt-list"), ipv6=True)
    gateway = {gateway_port: [Route("", "/", PREFIX, BackendRef("web", "none", 80), "web/r")]}
    out = render(build_table([]), {}, {}, settings, gateway)
    config = tmp_path / "haproxy.cfg"
    config.write_text(out.config)
    proxy = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        answers: dict[tuple[str, int], int] = {}
        wanted = {(host, port) for host in ("127.0.0.1", "::1") for port in (http_port, gateway_port)}
        while set(answers) != wanted and time.monotonic() < deadline and proxy.poll() is None:
            for host, port in wanted - set(answers):
                try:
                    answers[(host, port)] = _get(host, port)[0]
                except OSError:
                    time.sleep(0.1)
        assert proxy.poll() is None, proxy.communicate()[0].decode(errors="replace")
        assert answers == {key: (404 if key[1] == http_port else 503) for key in wanted}, answers
        for host in ("127.0.0.1", "::1"):  # the HTTPS listener takes connections on both too
            with socket.create_connection((host, https_port), timeout=2):
                pass
    finally:
        proxy.terminate()
        output = proxy.communicate(timeout=10)[0]
    assert b"ALERT" not in output, output.decode(errors="replace")
