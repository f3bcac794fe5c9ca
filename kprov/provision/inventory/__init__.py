"""Inventory: model, Ansible YAML/INI loaders, variable precedence and host patterns."""

from kprov.provision.inventory.loader import load_inventory, load_vars_dir
from kprov.provision.inventory.model import Group, Host, Inventory
from kprov.provision.inventory.patterns import select_hosts

__all__ = ["Group", "Host", "Inventory", "load_inventory", "load_vars_dir", "select_hosts"]
