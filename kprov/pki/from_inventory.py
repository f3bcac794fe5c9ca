"""Adapting an engine inventory (kprov.provision.inventory) to the PKI's plain topology, and
where the pki directory of an inventory lives (``<inventory dir>/pki``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kprov.pki.store import ClusterPki, PkiReport
from kprov.pki.topology import ClusterTopology, topology_from_groups

if TYPE_CHECKING:
    from kprov.provision.inventory.model import Inventory

__all__ = ["ensure_inventory_pki", "inventory_dir", "pki_dir_for", "topology_from_inventory"]


def inventory_dir(inventory_path: str | Path) -> Path:
    """The directory of an inventory given as a file or a directory (Ansible's inventory_dir)."""
    path = Path(inventory_path).resolve()
    return path if path.is_dir() else path.parent


def pki_dir_for(inventory_path: str | Path) -> Path:
    return inventory_dir(inventory_path) / "pki"


def topology_from_inventory(inventory: Inventory) -> ClusterTopology:
    return topology_from_groups(
        list(inventory.hosts),
        inventory.members,
        inventory.host_vars,
        lambda group: group in inventory.groups and bool(inventory.members(group)),
    )


def ensure_inventory_pki(inventory_path: str | Path, *, rotate: bool = False) -> tuple[Path, PkiReport]:
    """Load the inventory and make its pki directory complete (``rotate``: renew every leaf)."""
    from kprov.provision.inventory import load_inventory

    inventory = load_inventory(inventory_path)
    directory = pki_dir_for(inventory_path)
    return directory, ClusterPki(directory).ensure(topology_from_inventory(inventory), rotate=rotate)
