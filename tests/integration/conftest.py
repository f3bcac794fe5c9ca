"""Integration fixtures shared by every component: a real local control plane.

``control_plane`` (session scope) runs a local etcd and ``kprov-apiserver`` over HTTPS on
loopback (kprov.local.LocalControlPlane, no scheduler/controller manager: tests start the
components they test). It gives the admin kubeconfig and makes kubeconfigs for any other
identity::

    def test_x(control_plane):
        admin = control_plane.admin_kubeconfig
        node = control_plane.node_kubeconfig("n1")            # system:node:n1, system:nodes
        sched = control_plane.kubeconfig_for("system:kube-scheduler")

Everything is stopped at the end of the session.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from kprov.local import LocalControlPlane, LocalInfo
from kprov.pki import CONTROLLER_MANAGER_CN, KUBE_PROXY_CN, NODES_GROUP, SCHEDULER_CN, kubelet_cn

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


@dataclass
class ControlPlane:
    plane: LocalControlPlane
    info: LocalInfo

    @property
    def server(self) -> str:
        return self.info.server

    @property
    def admin_kubeconfig(self) -> Path:
        return Path(self.info.admin_kubeconfig)

    @property
    def ca_file(self) -> Path:
        return Path(self.info.ca_file)

    @property
    def etcd_url(self) -> str:
        return self.info.etcd_url

    def kubeconfig_for(self, user: str, groups: Sequence[str] = ()) -> Path:
        return self.plane.kubeconfig_for(user, list(groups))

    def node_kubeconfig(self, node: str) -> Path:
        return self.kubeconfig_for(kubelet_cn(node), [NODES_GROUP])

    def scheduler_kubeconfig(self) -> Path:
        return self.kubeconfig_for(SCHEDULER_CN)

    def controller_manager_kubeconfig(self) -> Path:
        return self.kubeconfig_for(CONTROLLER_MANAGER_CN)

    def proxy_kubeconfig(self) -> Path:
        return self.kubeconfig_for(KUBE_PROXY_CN)


@contextmanager
def running_control_plane(directory: Path) -> Iterator[ControlPlane]:
    """A local etcd and API server in ``directory``, stopped on leaving (skips without etcd)."""
    if not os.path.exists(ETCD):
        pytest.skip("etcd is not installed (Debian package etcd-server)")
    plane = LocalControlPlane(directory, start_components=False)
    try:
        info = plane.up()
        yield ControlPlane(plane, info)
    finally:
        plane.down()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with running_control_plane(tmp_path_factory.mktemp("control-plane")) as plane:
        yield plane
