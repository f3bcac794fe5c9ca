"""Playbooks: the data model (this package) and the loader (kprov.provision.playbook.loader)."""

from kprov.provision.playbook.model import Block, Item, Play, Playbook, Role, Scope, Task

__all__ = ["Block", "Item", "Play", "Playbook", "Role", "Scope", "Task"]
