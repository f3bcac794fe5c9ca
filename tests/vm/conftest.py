"""The VM stage's fixtures: libvirt's daemons, a clean libvirt, the kprov box, one Vagrant VM.

Everything here is real: QEMU (KVM where /dev/kvm runs a stock guest, else TCG), libvirt,
vagrant-libvirt and the box `kprov vm box` builds (.ci/test builds it before this stage, so
the stage's own time is the VM's). The VM is made once for the directory and destroyed by
the last test, which checks what the destroy left; the teardown purges whatever a failed run
left and stops the libvirt daemons this stage started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kprov.vm.box import add_box, build_box
from kprov.vm.libvirt import start_daemons, stop_daemons
from kprov.vm.recipe import BoxRecipe
from kprov.vm.vagrant import VagrantLab, purge

REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if os.environ.get("KPROV_SKIP_VM") == "1":
        reason = "KPROV_SKIP_VM=1"
    elif os.geteuid() != 0:
        reason = "real VMs need root"
    elif not all(shutil.which(tool) for tool in ("vagrant", "virsh", "qemu-system-x86_64")):
        reason = "vagrant, libvirt or QEMU missing: run .ci/setup"
    if reason is None:
        return
    for item in items:
        if "vm" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="package")
def box_recipe() -> BoxRecipe:
    return BoxRecipe()


@pytest.fixture(scope="package")
def vm(tmp_path_factory: pytest.TempPathFactory, box_recipe: BoxRecipe) -> Iterator[VagrantLab]:
    """h1 of vagrant/Vagrantfile, up; destroyed (if a test has not) and purged afterwards."""
    started = start_daemons()
    try:
        purge()
        result = build_box(box_recipe)
        add_box(result.path, box_recipe.box_digest())
        lab = VagrantLab(REPO / "vagrant", tmp_path_factory.mktemp("vagrant"), 1)
        try:
            print(f"vagrant up: {lab.up(timeout=1800):.0f} s", file=sys.stderr)
            yield lab
        finally:
            # A no-op when the last test destroyed it already.
            subprocess.run(["vagrant", "destroy", "--force"], env=lab.env(), cwd=lab.workdir,
                           capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
    finally:
        purge()
        stop_daemons(started)
