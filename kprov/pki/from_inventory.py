"""Adapting an engine inventory (kprov.provision.inventory) to the PKI's plain topology, and
where the pki directory of an inventory lives (``<inventory dir>/pki``).

An inventory may come from several sources (``-i`` repeated): the topology is read from all
of them, and the pki directory lives beside the first, as every command of a run agrees."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kprov.pki.store import ClusterPki, PkiReport
from kprov.pki.topology import (
    CONTROL_PLANE_GROUP,
    ETCD_GROUP,
    KUBELET_GROUPS,
    ClusterTopology,
    TopologyError,
    topology_from_groups,
)

if TYPE_CHECKING:
    from kprov.provision.inventory.model import Inventory

__all__ = ["InventorySources", "ensure_inventory_pki", "inventory_dir", "inventory_sources",
           "misspelt_groups", "pki_dir_for", "topology_from_inventory"]

# one inventory file or directory, or several (``-i`` repeated), in the order given
InventorySources = str | Path | Sequence[str | Path]


def inventory_sources(sources: InventorySources) -> list[str]:
    """Every source as a string, in order (one path is a list of one)."""
    if isinstance(sources, (str, Path)):
        return [str(sources)]
    if not sources:
        raise ValueError("no inventory source given")
    return [str(s) for s in sources]


def inventory_dir(sources: InventorySources) -> Path:
    """The directory of the (first) inventory, given as a file or a directory (Ansible's
    inventory_dir)."""
    path = Path(inventory_sources(sources)[0]).resolve()
    return path if path.is_dir() else path.parent


def pki_dir_for(sources: InventorySources) -> Path:
    return inventory_dir(sources) / "pki"


# Variables the topology reads that an inventory may give as templates ("{{ lb_vip }}"); a
# host's address as its connection renders it (kprov.provision.connect.reach)
TEMPLATED_VARS = ("apiserver_vip", "apiserver_endpoint", "ansible_host", "ansible_ssh_host")


def _templated_host_vars(inventory: Inventory) -> Callable[[str], dict[str, Any]]:
    """The host's inventory variables with :data:`TEMPLATED_VARS` rendered against them (an
    undefined variable raises TopologyError naming it, not "expected an IP address")."""
    from kprov.provision.errors import TemplateError
    from kprov.provision.templates import TemplateEngine, is_template

    engine = TemplateEngine()

    def host_vars(host: str) -> dict[str, Any]:
        found = inventory.host_vars(host)
        for name in TEMPLATED_VARS:
            if is_template(found.get(name)):
                scope = engine.scope([({"inventory_hostname": host, **found}, True)])
                try:
                    found[name] = scope[name]
                except TemplateError as err:
                    raise TopologyError(f"{name} {found[name]!r} of host {host}: {err}") from None
        return found

    return host_vars


def topology_from_inventory(inventory: Inventory) -> ClusterTopology:
    return topology_from_groups(
        list(inventory.hosts),
        inventory.members,
        _templated_host_vars(inventory),
        lambda group: group in inventory.groups and bool(inventory.members(group)),
    )


def _group_line(sources: list[str], group: str) -> str:
    """``file:line`` where an inventory source names ``group`` (YAML ``group:``, INI
    ``[group]``), or "" when no source file shows it."""
    pattern = re.compile(rf"^\s*(\[{re.escape(group)}(:\w+)?\]|{re.escape(group)}\s*:)")
    files: list[Path] = []
    for source in sources:
        path = Path(source)
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for path in files:
        try:
            lines = path.read_text().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(lines, 1):
            if pattern.match(line):
                return f"{path}:{number}"
    return ""


def misspelt_groups(inventory: Inventory) -> list[str]:
    """Hints for groups that look like the cluster's (``control-plane`` for ``control_plane``):
    each names the group, the file and line that defines it, and the name kprov reads."""
    wanted = (ETCD_GROUP, CONTROL_PLANE_GROUP, *KUBELET_GROUPS)
    hints = []
    for group in inventory.groups:
        if group in wanted:
            continue
        normal = group.lower().replace("-", "_").replace(" ", "_")
        close = [w for w in wanted if normal == w] or difflib.get_close_matches(normal, wanted, 1, 0.85)
        if close and not (close[0] in inventory.groups and inventory.members(close[0])):
            where = _group_line(inventory.sources, group)
            hints.append(f"group '{group}'{f' ({where})' if where else ''} is not read by kprov: "
                         f"did you mean '{close[0]}'?")
    return hints


def ensure_inventory_pki(sources: InventorySources, *, rotate: bool = False) -> tuple[Path, PkiReport]:
    """Load the inventory (every source) and make its pki directory complete (``rotate``: renew
    every leaf). A topology error says which inventory group looks misspelt, with its file and
    line."""
    from kprov.provision.inventory import load_inventory

    inventory = load_inventory(*inventory_sources(sources))
    directory = pki_dir_for(sources)
    try:
        return directory, ClusterPki(directory).ensure(topology_from_inventory(inventory), rotate=rotate)
    except TopologyError as err:
        hints = misspelt_groups(inventory)
        if not hints:
            raise
        raise TopologyError(f"{err}; " + "; ".join(hints)) from None
