"""ansible.builtin.shell: the command module with shell features (see command.py)."""

from __future__ import annotations

from kprov.provision.modules.commands.command import CommandModule

__all__ = ["MODULE"]

MODULE = CommandModule("shell", use_shell=True)
