"""Gratuitous ARP: tell the link that an IPv4 address now lives at this interface's MAC.

A node that takes an address over sends an ARP announcement (RFC 5227: an ARP request,
sender and target protocol address both the address, target hardware address zero,
broadcast), so neighbours replace the dead node's MAC in their caches at once instead of
after their entry goes stale (Linux: ``gc_stale_time`` 60 s, then probes). Linux accepts it
into an existing neighbour entry whatever ``arp_accept`` says. Built here as one raw
Ethernet frame on an AF_PACKET socket: 42 bytes and a ``send``, where ``arping`` would be
one more package on every node (iputils-arping is not installed by the roles) and a process
per announcement. Needs CAP_NET_RAW, which kprov-proxy has (it runs as root for nftables).
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path

__all__ = ["announcement_frame", "interface_mac", "send_announcement"]

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARP_HTYPE_ETHERNET = 1
ARP_REQUEST = 1
BROADCAST = b"\xff" * 6


def announcement_frame(mac: bytes, address: str) -> bytes:
    """The Ethernet frame of an ARP announcement of ``address`` from ``mac`` (6 bytes)."""
    if len(mac) != 6:
        raise ValueError(f"a MAC address has 6 bytes, not {len(mac)}")
    ip = socket.inet_aton(address)
    ethernet = BROADCAST + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", ARP_HTYPE_ETHERNET, ETH_P_IP, 6, 4, ARP_REQUEST)
    return ethernet + arp + mac + ip + b"\x00" * 6 + ip


def interface_mac(interface: str) -> bytes:
    text = (Path("/sys/class/net") / interface / "address").read_text().strip()
    return bytes.fromhex(text.replace(":", ""))


def send_announcement(interface: str, address: str) -> None:
    """Broadcast one announcement of ``address`` on ``interface`` (the kernel pads it to 60 bytes)."""
    frame = announcement_frame(interface_mac(interface), address)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
        sock.bind((interface, 0))
        sock.send(frame)
