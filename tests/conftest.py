"""Shared pytest configuration: markers and skips that depend on the machine, and a
connection keeper of the test session's own (runs keep SSH sessions between them, as
Ansible's ControlPersist does: the tests' runs share theirs, and it ends with the session)."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_OWN_KEEPER = "_KPROV_TESTS_CONTROL_PATH_DIR"
# vendored test data, not tests of kprov (ansible-core's targets carry test_*.py plugins)
collect_ignore = ["data"]


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("KPROV_CONTROL_PATH_DIR"):
        return
    directory = tempfile.mkdtemp(prefix="kprov-tests-cp-")  # (mode 0700)
    os.environ["KPROV_CONTROL_PATH_DIR"] = os.environ[_OWN_KEEPER] = directory


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = os.environ.pop(_OWN_KEEPER, None)
    if directory is None:
        return
    from pathlib import Path

    from kprov.provision.connect.persist import stop_keeper

    stop_keeper(Path(directory))
    os.environ.pop("KPROV_CONTROL_PATH_DIR", None)
    shutil.rmtree(directory, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="lab tests need root")
    for item in items:
        if "lab" in item.keywords:
            item.add_marker(skip)
