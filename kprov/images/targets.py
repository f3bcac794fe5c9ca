"""SSH targets for ``kprov images push`` from an Ansible-style inventory.

Uses the provisioner's inventory loader (groups, host/group vars, patterns) and the
standard connection variables: ansible_host, ansible_port, ansible_user,
ansible_ssh_private_key_file.
"""

from __future__ import annotations

from pathlib import Path

from kprov.images.push import SSHTarget
from kprov.provision.inventory import load_inventory, select_hosts

__all__ = ["targets_from_inventory"]


def targets_from_inventory(inventory: Path, limit: str = "all") -> list[SSHTarget]:
    inv = load_inventory(inventory)
    names = select_hosts(inv, limit or "all", strict=True)
    if not names:
        raise ValueError(f"{inventory}: no host matches {limit!r}")
    targets = []
    for name in names:
        hv = inv.host_vars(name)
        key = hv.get("ansible_ssh_private_key_file") or hv.get("ansible_private_key_file")
        targets.append(
            SSHTarget(
                name=name,
                address=str(hv.get("ansible_host", name)),
                user=str(hv.get("ansible_user", "root")),
                port=int(hv.get("ansible_port", 22)),
                key_file=str(Path(str(key)).expanduser()) if key else None,
            )
        )
    return targets
