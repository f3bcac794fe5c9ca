"""Roles: finding a role directory and reading its defaults, vars and meta."""

from kprov.provision.roles.loader import RoleFinder, role_file

__all__ = ["RoleFinder", "role_file"]
