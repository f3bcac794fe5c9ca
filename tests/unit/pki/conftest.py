"""A five-host topology (h1..h3 etcd + control plane, h4..h5 workers) built from plain data."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from kprov.pki.store import ClusterPki
from kprov.pki.topology import ClusterTopology, topology_from_groups


def make_topology(
    groups: dict[str, list[str]], host_vars: dict[str, dict[str, Any]] | None = None
) -> ClusterTopology:
    host_vars = host_vars or {}
    names = list(dict.fromkeys(h for members in groups.values() for h in members))
    return topology_from_groups(
        names,
        lambda g: list(groups.get(g, [])),
        lambda h: host_vars.get(h, {}),
        lambda g: bool(groups.get(g)),
    )


FIVE = {"etcd": ["h1", "h2", "h3"], "control_plane": ["h1", "h2", "h3"], "workers": ["h4", "h5"]}
FIVE_VARS = {f"h{i}": {"ansible_host": f"10.77.2.{10 + i}"} for i in range(1, 6)}


@pytest.fixture
def five() -> ClusterTopology:
    return make_topology(FIVE, FIVE_VARS)


@pytest.fixture(scope="session")
def _issued_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki-template") / "pki"
    ClusterPki(directory).ensure(make_topology(FIVE, FIVE_VARS))
    return directory


@pytest.fixture
def issued(_issued_once: Path, tmp_path: Path) -> Path:
    """A complete pki directory for the five-host topology (a private copy per test)."""
    directory = tmp_path / "pki"
    shutil.copytree(_issued_once, directory)
    return directory
