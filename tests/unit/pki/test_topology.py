"""The topology read from an inventory: addresses, groups, the API server URL."""

from __future__ import annotations

import pytest

from kprov.pki.store import ClusterPki
from kprov.pki.topology import PkiHost, TopologyError

from .conftest import FIVE, FIVE_VARS, make_topology


def test_groups_and_kubelets(five) -> None:
    assert five.etcd == ("h1", "h2", "h3")
    assert five.control_plane == ("h1", "h2", "h3")
    assert five.kubelets == ("h1", "h2", "h3", "h4", "h5")


def test_without_node_groups_every_host_is_a_kubelet() -> None:
    topo = make_topology({"etcd": ["a", "b", "c"], "other": ["d"]}, {"a": {"apiserver_endpoint": "lb"}})
    assert topo.kubelets == ("a", "b", "c", "d")


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("10.0.0.100", "https://10.0.0.100:6443"),
        ("lb.example.org:8443", "https://lb.example.org:8443"),
        ("https://lb.example.org", "https://lb.example.org:6443"),
        ("https://lb.example.org:443/", "https://lb.example.org:443"),
        ("fd00::10", "https://[fd00::10]:6443"),
    ],
)
def test_apiserver_endpoint_forms(endpoint: str, url: str) -> None:
    host_vars = {**FIVE_VARS, "h1": {**FIVE_VARS["h1"], "apiserver_endpoint": endpoint}}
    assert make_topology(FIVE, host_vars).server_url == url


def test_bad_endpoint_names_the_variable() -> None:
    host_vars = {**FIVE_VARS, "h1": {**FIVE_VARS["h1"], "apiserver_endpoint": "http://lb:80"}}
    with pytest.raises(TopologyError, match="apiserver_endpoint 'http://lb:80'"):
        _ = make_topology(FIVE, host_vars).server_url


def test_host_addresses() -> None:
    host = PkiHost.from_vars("n1", {"ansible_host": "n1.lan", "ip": "10.1.1.1", "kprov_ips": ["10.2.2.2"]})
    assert host.dns_names == ("n1", "n1.lan") and host.ips == ("10.1.1.1", "10.2.2.2")
    assert host.address == "10.1.1.1"
    assert PkiHost.from_vars("10.3.3.3", {}).ips == ("10.3.3.3",)
    with pytest.raises(TopologyError, match="host n1: kprov_ips must be a list"):
        PkiHost.from_vars("n1", {"kprov_ips": {"a": 1}})


def test_no_control_plane_fails_before_writing(tmp_path) -> None:
    topo = make_topology({"etcd": ["h1"]}, FIVE_VARS)
    with pytest.raises(TopologyError, match="no control-plane host"):
        ClusterPki(tmp_path / "pki").ensure(topo)
    assert not (tmp_path / "pki").exists()
