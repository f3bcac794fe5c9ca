"""The hosts ``kprov images push`` and ``kprov images load`` reach, from an Ansible-style inventory.

Uses the provisioner's inventory loader (groups, host/group vars, patterns) and its one way
to reach a host (:mod:`kprov.provision.connect.reach`): the host's connection variables
(``ansible_host``, ``ansible_port``, ``ansible_user``, ``ansible_ssh_private_key_file`` ...)
templated in the inventory's scope, as ``kprov apply`` and ``kprov etcd`` take them. An
upload is one session that ends with it, so no connection keeper holds it unless the
inventory asks (``kprov_control_persist``).
"""

from __future__ import annotations

from pathlib import Path

from kprov.images.push import SSHTarget
from kprov.provision.connect.reach import connection_vars, inventory_scope
from kprov.provision.inventory import load_inventory, select_hosts
from kprov.provision.templates import TemplateEngine

__all__ = ["targets_from_inventory"]


def targets_from_inventory(inventory: Path, limit: str = "all") -> list[SSHTarget]:
    inv = load_inventory(inventory)
    names = select_hosts(inv, limit or "all", strict=True)
    if not names:
        raise ValueError(f"{inventory}: no host matches {limit!r}")
    engine = TemplateEngine()
    targets = []
    for name in names:
        scope = inventory_scope(inv, name, engine)
        variables = {"kprov_control_persist": 0, **connection_vars(name, inv.host_vars(name), scope.template)}
        targets.append(SSHTarget(name, variables))
    return targets
