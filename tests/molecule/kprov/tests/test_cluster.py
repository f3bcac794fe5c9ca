"""Molecule verify (testinfra): what roles/site.yml left on each host beyond etcd.

Every host is a node (kubelet, kube-proxy, containerd); control-plane hosts also run the
API server, scheduler and controller manager. The cluster checks ask the API server, with
the node's own credentials, whether this host's Node is Ready.
"""

from __future__ import annotations

import json

import pytest

NODE_UNITS = ("containerd", "kprov-kubelet", "kprov-proxy")
CONTROL_PLANE_UNITS = ("kprov-apiserver", "kprov-scheduler", "kprov-controller-manager")
KUBECONFIG = "/etc/kprov/kubelet.conf"
CREDENTIALS = "/run/kprov-molecule-verify"  # the kubelet's client cert and key, from its kubeconfig
AS_NODE = (f"curl -sf -m 5 --cacert /etc/kprov/pki/ca.crt --cert {CREDENTIALS}/client.crt "
           f"--key {CREDENTIALS}/client.key")


@pytest.fixture()
def api_server(host) -> str:
    """The API server the kubelet uses; its client credentials are extracted for curl."""
    def decoded(field: str, into: str) -> str:
        return f"sed -n 's/^ *{field}: //p' {KUBECONFIG} | base64 -d > {CREDENTIALS}/{into}"

    extract = (f"install -d -m 700 {CREDENTIALS} && {decoded('client-certificate-data', 'client.crt')} && "
               f"{decoded('client-key-data', 'client.key')}")
    done = host.run(extract)
    assert done.rc == 0, done.stderr
    server = host.file(KUBECONFIG).content_string.split("server: ", 1)[1].split()[0]
    assert server.startswith("https://"), server
    return server


def _groups(host) -> list[str]:
    return list(host.ansible.get_variables().get("group_names") or [])


def _name(host) -> str:
    return str(host.ansible.get_variables()["inventory_hostname"])


@pytest.mark.parametrize("unit", NODE_UNITS + CONTROL_PLANE_UNITS)
def test_the_hosts_units_run_and_start_at_boot(host, unit: str) -> None:
    wanted = unit in NODE_UNITS or "control_plane" in _groups(host)
    service = host.service(unit)
    assert service.is_running == wanted, unit
    assert service.is_enabled == wanted, unit


@pytest.mark.parametrize(("port", "control_plane_only"), [(6443, True), (10250, False), (10256, False)])
def test_component_ports_listen(host, port: int, control_plane_only: bool) -> None:
    wanted = not control_plane_only or "control_plane" in _groups(host)
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening == wanted, port


def test_the_api_server_is_ready_through_the_node_credentials(host, api_server: str) -> None:
    ready = host.run(f"{AS_NODE} {api_server}/readyz")
    assert ready.rc == 0 and ready.stdout.strip() == "ok", ready.stdout + ready.stderr


def test_this_node_is_registered_and_ready(host, api_server: str) -> None:
    got = host.run(f"{AS_NODE} {api_server}/api/v1/nodes/{_name(host)}")
    assert got.rc == 0, got.stderr
    node = json.loads(got.stdout)
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}.get("Ready")
    assert ready == "True", node["status"]["conditions"]
    taints = node["spec"].get("taints") or []
    tainted = any(t["key"] == "node-role.kubernetes.io/control-plane" for t in taints)
    assert tainted == ("control_plane" in _groups(host))


def test_units_restart_always(host) -> None:
    for unit in NODE_UNITS[1:] + (CONTROL_PLANE_UNITS if "control_plane" in _groups(host) else ()):
        text = host.file(f"/etc/systemd/system/{unit}.service").content_string
        assert "Restart=always" in text, unit
