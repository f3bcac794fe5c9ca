"""Fixtures for every e2e test: lab hosts (systemd-nspawn machines) on one lab instance.

The instance is ``int(os.environ.get("KPROV_TEST_LAB", "9"))``; it is wiped when the test
session ends. Use:

    def test_something(lab_hosts):
        lab = lab_hosts(3)                 # h1..h3 running (brought up if needed)
        rc, out, err = lab.ssh("h1", "systemctl is-system-running")

    def test_with_ansible(lab_inventory):
        path = lab_inventory(5)            # h1..h5 running + an Ansible inventory file for them

``lab`` is the session's kprov.lab.Lab itself (nothing brought up). Tests under
tests/e2e/lab/ wipe and rebuild the instance, so they are ordered to run before all other
e2e tests; everything else must call ``lab_hosts(n)`` (cheap when the hosts already run)
rather than assume hosts survive from an earlier test module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kprov.lab import Lab

LAB_INDEX = int(os.environ.get("KPROV_TEST_LAB", "9"))
_E2E_DIR = Path(__file__).parent
_LAB_TESTS_DIR = _E2E_DIR / "lab"


def _marked_last_in_package(items: list[pytest.Item], marker: str) -> list[pytest.Item]:
    """Tests marked ``marker`` move behind every other test of their directory, whatever the
    file names' order."""
    last: dict[Path, list[pytest.Item]] = {}
    for item in items:
        if item.get_closest_marker(marker):
            last.setdefault(item.path.parent, []).append(item)
    if not last:
        return items
    ordered: list[pytest.Item] = []
    remaining = {folder: sum(1 for i in items if i.path.parent == folder) - len(marked)
                 for folder, marked in last.items()}
    for item in items:
        folder = item.path.parent
        if item.get_closest_marker(marker):
            continue
        ordered.append(item)
        if folder in remaining:
            remaining[folder] -= 1
            if remaining[folder] == 0:
                ordered += last.pop(folder)
    for marked in last.values():
        ordered += marked
    return ordered


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the lab's own (destructive) tests before any other e2e test; a package's teardown
    tests after the rest of it; leave the rest in order."""
    # runs_late (a run that leaves the shared cluster busy for a while, such as the
    # conformance subset) after the rest; package_teardown (a reset that removes the
    # package's cluster) after those
    items[:] = _marked_last_in_package(_marked_last_in_package(items, "runs_late"), "package_teardown")
    lab_items = [item for item in items if item.path.is_relative_to(_LAB_TESTS_DIR)]
    ordered: list[pytest.Item] = []
    for item in items:
        if item.path.is_relative_to(_LAB_TESTS_DIR):
            continue
        if lab_items and item.path.is_relative_to(_E2E_DIR):
            ordered += lab_items
            lab_items = []
        ordered.append(item)
    items[:] = ordered + lab_items


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The test session's lab instance (KPROV_TEST_LAB, default 9); wiped at session end."""
    if os.geteuid() != 0:
        pytest.skip("lab tests need root")
    instance = Lab(LAB_INDEX)
    yield instance
    if not os.environ.get("KPROV_KEEP_LAB"):  # set it to look at a failed run's hosts
        instance.wipe()


def _wipe_lab_hosts() -> None:
    if os.geteuid() != 0:
        return
    instance = Lab(LAB_INDEX)
    if instance.hosts():
        instance.wipe()


@pytest.fixture(scope="package", autouse=True)
def _fresh_hosts_at_start() -> None:
    """The run starts from fresh hosts, whatever an earlier run left. (Defined here, a
    package-scoped fixture runs once for all of tests/e2e, not once per subpackage: the
    wipe between subpackages is pytest_runtest_teardown's.)"""
    _wipe_lab_hosts()


def _e2e_package(item: pytest.Item) -> str:
    """The subpackage of tests/e2e an item belongs to ('' for a module directly in it)."""
    parts = item.path.relative_to(_E2E_DIR).parts
    return parts[0] if len(parts) > 1 else ""


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Every e2e subpackage starts from fresh hosts: what one suite installs (etcd,
    containerd, a kubelet, a kprov runtime, its own PKI) must not leak into the next one's
    assumptions. Runs after pytest has torn down the finished package's fixtures (and never
    at the session's end: the ``lab`` fixture wipes then)."""
    if nextitem is None or not item.path.is_relative_to(_E2E_DIR):
        return
    if _e2e_package(item) != _e2e_package(nextitem):
        _wipe_lab_hosts()


@pytest.fixture(scope="session")
def lab_hosts(lab: Lab) -> Callable[[int], Lab]:
    """Factory: ``lab_hosts(n)`` makes sure h1..hn are running and returns the Lab."""

    def ensure(count: int = 3) -> Lab:
        lab.up(count)
        return lab

    return ensure


@pytest.fixture(scope="session")
def lab_inventory(
    lab_hosts: Callable[[int], Lab], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[int], Path]:
    """Factory: ``lab_inventory(n)`` brings h1..hn up and returns an Ansible inventory for them
    (groups etcd/control_plane = h1..h3, workers = the rest)."""
    directory = tmp_path_factory.mktemp("lab-inventory")

    def write(count: int = 5) -> Path:
        return lab_hosts(count).write_inventory(directory / f"hosts-{count}.yml", count)

    return write
