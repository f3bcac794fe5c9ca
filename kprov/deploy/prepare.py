"""Operator-side phases that run before the cluster playbook touches any host.

Three artifacts are made on the operator machine, each idempotent and cheap when current:
the cluster PKI next to the inventory (``kprov pki init``), kprov's runtime (its code and
dependencies, installed from the wheelhouse into a tree: ``kprov.bundle.runtime``), the
node images (pause and busybox OCI archives, built once and cached) and the stand-ins the
image mirror serves under public names (``kprov.images.standins``). Their locations
become extra variables of the run, which is what roles/site.yml expects
(``ansible-playbook`` users get the same variables from ``kprov bundle --vars``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from kprov.bundle.runtime import Runtime, build_runtime
from kprov.deploy.playbooks import (
    NODE_PREREQS_PLAYBOOK,
    REPO_ROOT,
    SITE_PLAYBOOK,
    is_cluster_playbook,
    needs_prepared_artifacts,
)
from kprov.images import build_archive, busybox_image, pause_image
from kprov.images.host_tools import ENV_KEEPING_SHELL
from kprov.images.recipes import BUSYBOX_PATH
from kprov.images.standins import build_standins, standin_names
from kprov.pki.from_inventory import InventorySources, ensure_inventory_pki
from kprov.pki.store import PkiReport

__all__ = ["NODE_PREREQS_PLAYBOOK", "REPO_ROOT", "SITE_PLAYBOOK", "PreparedCluster", "is_cluster_playbook",
           "needs_prepared_artifacts", "node_images", "prepare_cluster", "standins_archive"]

IMAGE_CACHE = Path("/var/lib/kprov/images")
STANDIN_INPUTS = (BUSYBOX_PATH, ENV_KEEPING_SHELL)  # the stand-ins' files from this machine
NODE_IMAGES = {"pause": pause_image, "busybox": busybox_image}


@dataclass(frozen=True)
class PreparedCluster:
    """What the operator-side phases produced, and the variables that point at it."""

    pki_dir: Path
    pki_report: PkiReport
    runtime: Runtime
    images: dict[str, Path]
    standins: Path | None = None

    @property
    def extra_vars(self) -> dict[str, str]:
        found = {
            "kprov_pki_dir": str(self.pki_dir),
            "kprov_runtime_archive": str(self.runtime.archive),
            "kprov_runtime_digest": self.runtime.digest,
            "kprov_runtime_node_archive": str(self.runtime.node_archive),
        }
        found.update({f"kprov_image_{name}_archive": str(path) for name, path in self.images.items()})
        if self.standins is not None:
            found["kprov_registry_standins_archive"] = str(self.standins)
        return found


def node_images(cache: Path = IMAGE_CACHE) -> dict[str, Path]:
    """The OCI archives every node imports (kprov.local/<name>:1), built once into ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    archives = {}
    for name, recipe in NODE_IMAGES.items():
        path = cache / f"{name}.tar"
        if not path.exists():  # an archive is rebuilt byte-different: keep the first for idempotence
            partial = path.with_suffix(".partial")
            try:
                build_archive(recipe(f"kprov.local/{name}:1"), partial)
                partial.rename(path)
            finally:
                partial.unlink(missing_ok=True)  # an interrupted build leaves nothing in the cache
        archives[name] = path
    return archives


def standins_archive(cache: Path = IMAGE_CACHE, inputs: tuple[Path, ...] = STANDIN_INPUTS) -> Path:
    """The stand-ins archive for the mirror, built once into ``cache`` per list of names and
    content of the files the images are made of (``inputs``: a rebuilt /bin/sh makes a new
    archive, not the cached one with the old shell)."""
    key = hashlib.sha256("\n".join(standin_names(with_agnhost=False)).encode())
    for source in inputs:
        key.update(b"\0" + (source.read_bytes() if source.is_file() else b"-"))
    path = cache / f"standins-{key.hexdigest()[:12]}.tar"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        build_standins(partial)
        partial.rename(path)
    return path


def prepare_cluster(inventory: InventorySources, repo_root: Path = REPO_ROOT) -> PreparedCluster:
    """Make the PKI and kprov's runtime current for ``inventory`` (files or directories, every
    ``-i`` source; the PKI beside the first)."""
    pki_dir, report = ensure_inventory_pki(inventory)
    return PreparedCluster(pki_dir, report, build_runtime(repo_root), node_images(), standins_archive())
