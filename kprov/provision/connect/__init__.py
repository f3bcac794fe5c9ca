"""Connections to hosts: the Connector interface and its ssh, local and fake transports."""

from kprov.provision.connect.base import (
    CommandResult,
    CommandTimeoutError,
    ConnectionFailure,
    Connector,
    UnreachableError,
)
from kprov.provision.connect.transports import connector_for

__all__ = [
    "CommandResult",
    "CommandTimeoutError",
    "ConnectionFailure",
    "Connector",
    "UnreachableError",
    "connector_for",
]
