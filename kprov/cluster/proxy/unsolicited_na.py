"""Unsolicited Neighbour Advertisement: the IPv6 counterpart of gratuitous ARP (:mod:`.garp`).

An IPv6 LoadBalancer address is announced like an IPv4 one: added to the interface that
holds the node's IPv6 InternalIP as a /128 (:mod:`.announced_addresses`, with ``nodad`` so it
is usable at once instead of tentative for a second of duplicate address detection). The
kernel then answers Neighbour Solicitations for it on that link, as it answers ARP for an
IPv4 one: no NDP responder in user space (MetalLB's speaker has one).

When the address moves to this node, neighbours still cache the old node's MAC until the
entry goes stale and they solicit again. RFC 4861 section 7.2.6 has a node tell them at once:
an unsolicited Neighbour Advertisement to the all-nodes group ``ff02::1`` with the Override
flag set and the target link-layer address option, hop limit 255 (receivers drop NDP
messages with any other). Sent on a raw ICMPv6 socket, where Linux fills in the checksum;
the source address is the announced one. Needs CAP_NET_RAW, which kprov-proxy has.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from kprov.cluster.proxy.garp import interface_mac

__all__ = ["ALL_NODES", "advertisement", "send_advertisement"]

ALL_NODES = "ff02::1"
ND_NEIGHBOR_ADVERT = 136
FLAG_OVERRIDE = 0x20000000
OPTION_TARGET_LINK_ADDRESS = 2
HOP_LIMIT = 255


def advertisement(mac: bytes, address: str) -> bytes:
    """The ICMPv6 message (checksum left 0 for the kernel) advertising ``address`` at ``mac``."""
    if len(mac) != 6:
        raise ValueError(f"a MAC address has 6 bytes, not {len(mac)}")
    target = ipaddress.IPv6Address(address).packed
    header = struct.pack("!BBHI", ND_NEIGHBOR_ADVERT, 0, 0, FLAG_OVERRIDE)
    option = struct.pack("!BB", OPTION_TARGET_LINK_ADDRESS, 1) + mac  # length in units of 8 bytes
    return header + target + option


def send_advertisement(interface: str, address: str) -> None:
    """Send one unsolicited advertisement of ``address`` (held by ``interface``) to all nodes."""
    message = advertisement(interface_mac(interface), address)
    index = socket.if_nametoindex(interface)
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as sock:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, HOP_LIMIT)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, HOP_LIMIT)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        sock.bind((address, 0, 0, index))
        sock.sendto(message, (ALL_NODES, 0, 0, index))
