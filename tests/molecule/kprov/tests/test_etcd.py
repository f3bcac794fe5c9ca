"""Molecule verify (testinfra): what roles common + etcd left on each host.

Run by Molecule's testinfra verifier against its inventory (``host`` is one lab host).
"""

from __future__ import annotations

import json

import pytest

PKI = "/etc/kprov/pki/etcd"


def test_kprov_etcd_runs_and_starts_at_boot(host) -> None:
    unit = host.service("kprov-etcd")
    assert unit.is_running
    assert unit.is_enabled


def test_debian_etcd_unit_is_masked(host) -> None:
    assert host.file("/etc/systemd/system/etcd.service").linked_to == "/dev/null"


@pytest.mark.parametrize("port", [2379, 2380])
def test_etcd_listens_on_the_host_address(host, port: int) -> None:
    address = host.ansible.get_variables()["ansible_host"]
    assert host.socket(f"tcp://{address}:{port}").is_listening


@pytest.mark.parametrize(
    ("path", "mode"),
    [
        ("/etc/kprov/pki", 0o700),
        (PKI, 0o700),
        (f"{PKI}/server.key", 0o600),
        (f"{PKI}/peer.key", 0o600),
        (f"{PKI}/admin.key", 0o600),
        (f"{PKI}/ca.crt", 0o644),
        (f"{PKI}/server.crt", 0o644),
        ("/var/lib/kprov/etcd", 0o700),
        ("/usr/local/bin/kprov-etcdctl", 0o755),
    ],
)
def test_files_have_the_rendered_modes(host, path: str, mode: int) -> None:
    item = host.file(path)
    assert item.exists, path
    assert item.user == "root"
    assert item.mode == mode, f"{path}: {oct(item.mode)}"


def test_member_settings_name_this_host(host) -> None:
    name = host.ansible.get_variables()["inventory_hostname"]
    env = host.file("/etc/kprov/etcd.env").content_string
    assert f"ETCD_NAME={name}" in env or f'ETCD_NAME="{name}"' in env


def test_quorum_has_three_healthy_members_over_tls(host) -> None:
    members = host.run("/usr/local/bin/kprov-etcdctl member list -w json")
    assert members.rc == 0, members.stderr
    listed = json.loads(members.stdout)["members"]
    assert len(listed) == 3
    assert all(url.startswith("https://") for m in listed for url in m["clientURLs"])
    health = host.run("/usr/local/bin/kprov-etcdctl endpoint health --cluster")
    assert health.rc == 0, health.stderr
    assert (health.stdout + health.stderr).count("is healthy") == 3  # etcdctl 3.4 reports on stderr


def test_plain_http_is_refused(host) -> None:
    result = host.run("curl -s -m 3 http://127.0.0.1:2379/health")
    assert result.rc != 0 or "health" not in result.stdout
