"""Fixtures of the network e2e tests: a two-node cluster with kprov-proxy on each node."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kprov.lab import Lab
from tests.e2e.network.cluster import NetworkCluster

NODES = ("h3", "h4")  # h1 belongs to the kubelet tests' one-node cluster


@pytest.fixture(scope="module")
def network_cluster(lab_hosts: Callable[[int], Lab]) -> Iterator[NetworkCluster]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    lab = lab_hosts(4)
    workdir = Path(tempfile.mkdtemp(prefix="kprov-network-e2e-"))
    cluster = NetworkCluster(lab, workdir, NODES)
    try:
        cluster.start_control_plane()
        cluster.prepare_nodes()
        cluster.start_node_agents()
        yield cluster
    finally:
        cluster.close()
        shutil.rmtree(workdir, ignore_errors=True)
