"""Which transport reaches a host: the connector a host's (ansible_*) variables ask for.

Design: :mod:`.base` is the interface every transport implements and imports nothing of
them; this module chooses among them (local, ssh through the connection keeper, ssh on its
own), importing the chosen one only when it is asked for, so a run that reaches no host
over ssh never loads paramiko. :mod:`.reach` renders templated connection variables first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import Connector

__all__ = ["connector_for"]


def connector_for(host_name: str, host_vars: Mapping[str, Any]) -> Connector:
    """The connector a host's (ansible_*) variables ask for: local or ssh (paramiko).

    ``ansible_connection: local`` (or ``localhost`` with no ansible_host) gives a local
    connector; anything else (ssh, paramiko, smart, unset) gives ssh: through the
    connection keeper while ``control_persist`` is on (the default), else a session of
    its own. See ``kprov.provision.connect.settings`` for every variable read.
    """
    from kprov.provision.connect.settings import ConnectionSettings

    settings = ConnectionSettings.from_host_vars(host_name, host_vars)
    if settings.transport == "local":
        from kprov.provision.connect.local import LocalConnector

        return LocalConnector(host_name, settings)
    if settings.control_persist > 0:
        from kprov.provision.connect.persist import PersistentSSHConnector

        return PersistentSSHConnector(host_name, settings)
    from kprov.provision.connect.ssh import SSHConnector

    return SSHConnector(host_name, settings)
