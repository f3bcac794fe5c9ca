"""The LoadBalancer addresses this node announces, as host addresses on its InternalIP's interface.

Announcing an address is adding it to the interface that holds the node's InternalIP, as a
host address (``ip addr replace A/32 dev IF``): the kernel then answers ARP for it on that
link (``arp_ignore`` 0, the default, answers for any local address), with no ARP responder in
user space (MetalLB's speaker has one) and no proxy-ARP (per-interface, and with a random
delay of up to ``proxy_delay``, 0.8 s). A /32 adds a local route only: the subnet route and
its ``src`` stay the node's own, so the node's own traffic keeps its address; packets to the
address are DNATed in nat prerouting (or nat output for the node's own) before routing, as
they were. Releasing the address deletes it. An IPv6 address is a /128 added with ``nodad``
(no duplicate address detection: the Lease already made it this node's alone), so the
kernel answers Neighbour Solicitations for it at once.

Every address added is recorded in ``<state dir>/l2-addresses`` (one ``address interface``
a line) before it is added, so a kprov-proxy that was killed leaves nothing behind: the
next start removes whatever the file names (:meth:`AnnouncedAddresses.sweep`). The state
dir lives under /run: a reboot clears both the file and the addresses.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import subprocess
import threading
from pathlib import Path

__all__ = ["AnnouncedAddresses", "interface_holding"]

log = logging.getLogger(__name__)

STATE_FILE = "l2-addresses"


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def interface_holding(address: str) -> str:
    """The interface that holds ``address`` (the node's InternalIP); "" when none does."""
    listing = _ip("-j", "addr", "show")
    for link in json.loads(listing.stdout or "[]"):
        for info in link.get("addr_info") or []:
            if info.get("local") == address:
                return str(link.get("ifname") or "")
    return ""


def _host_prefix(address: str) -> str:
    return f"{address}/{32 if ipaddress.ip_address(address).version == 4 else 128}"


class AnnouncedAddresses:
    """Adds and removes announced addresses, remembering them in a state file.

    Called from worker threads (one per address at a time): each change of the file and the
    kernel happens under one lock, so concurrent claims cannot lose each other's lines."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / STATE_FILE
        self._lock = threading.RLock()

    def _read(self) -> dict[str, str]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return {}
        return dict(line.split(" ", 1) for line in lines if " " in line)

    def _write(self, held: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text("".join(f"{ip} {dev}\n" for ip, dev in sorted(held.items())))
        temporary.replace(self.path)

    def held(self) -> dict[str, str]:
        """Address -> interface, as recorded."""
        return self._read()

    def add(self, address: str, interface: str) -> None:
        with self._lock:
            held = self._read()
            held[address] = interface
            self._write(held)
            # IPv6: no duplicate address detection, or the address stays tentative (unanswered)
            nodad = ["nodad"] if ipaddress.ip_address(address).version == 6 else []
            result = _ip("addr", "replace", _host_prefix(address), "dev", interface, *nodad)
        if result.returncode != 0:
            raise OSError(f"ip addr replace {address} dev {interface}: {result.stderr.strip()}")

    def remove(self, address: str) -> None:
        with self._lock:
            held = self._read()
            interface = held.pop(address, "")
            if interface:
                result = _ip("addr", "del", _host_prefix(address), "dev", interface)
                if result.returncode != 0 and "Cannot assign" not in result.stderr:
                    log.warning("ip addr del %s dev %s: %s", address, interface, result.stderr.strip())
            self._write(held)

    def sweep(self) -> list[str]:
        """Remove every recorded address (start-up after a crash, shutdown); returns them."""
        with self._lock:
            held = sorted(self._read())
            for address in held:
                self.remove(address)
        return held
