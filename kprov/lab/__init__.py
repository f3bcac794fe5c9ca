"""Local lab hosts: real Linux machines (systemd-nspawn, real systemd + sshd) on this machine.

``Lab(index)`` is the API (``up``, ``down``, ``wipe``, ``start``, ``stop``, ``status``,
``ssh``, ``ip``, ``key_path``, ``write_inventory``); ``kprov lab`` is its CLI. Instances
0..9 (env KPROV_LAB) are independent: own network 10.77.n.0/24, bridge, netns, cgroups and
state dir; the base image, package bundle and SSH key are shared.
"""

from kprov.lab.bundle import LAB_PACKAGES
from kprov.lab.errors import LabError
from kprov.lab.lab import HostStatus, Lab
from kprov.lab.layout import DEFAULT_ROOT, MAX_HOSTS, LabLayout, lab_index_from_env

__all__ = ["DEFAULT_ROOT", "LAB_PACKAGES", "MAX_HOSTS", "HostStatus", "Lab", "LabError", "LabLayout",
           "lab_index_from_env"]
