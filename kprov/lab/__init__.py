"""Local lab hosts: real Linux machines (systemd-nspawn, real systemd + sshd) on this machine.

``Lab(index)`` is the API (``up``, ``down``, ``wipe``, ``start``, ``stop``, ``status``,
``ssh``, ``ip``, ``key_path``, ``write_inventory``); ``kprov lab`` is its CLI. Instances
0..9 (env KPROV_LAB) are independent: own network 10.77.n.0/24, bridge, netns, cgroups and
state dir; the base image, package bundle and SSH key are shared.

The names below are imported on first use, so the per-host supervisor process (which
imports only kprov.lab.supervisor) stays small: no paramiko, cryptography or yaml in it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kprov.lab.bundle import LAB_PACKAGES
    from kprov.lab.errors import LabError
    from kprov.lab.lab import HostStatus, Lab
    from kprov.lab.layout import DEFAULT_ROOT, MAX_HOSTS, LabLayout, lab_index_from_env

__all__ = ["DEFAULT_ROOT", "LAB_PACKAGES", "MAX_HOSTS", "HostStatus", "Lab", "LabError", "LabLayout",
           "lab_index_from_env"]

_HOMES = {
    "LAB_PACKAGES": "kprov.lab.bundle",
    "LabError": "kprov.lab.errors",
    "HostStatus": "kprov.lab.lab",
    "Lab": "kprov.lab.lab",
    "DEFAULT_ROOT": "kprov.lab.layout",
    "MAX_HOSTS": "kprov.lab.layout",
    "LabLayout": "kprov.lab.layout",
    "lab_index_from_env": "kprov.lab.layout",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'kprov.lab' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
