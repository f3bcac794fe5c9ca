"""IP addresses as Kubernetes reads them: an IPv4 octet may carry leading zeros, read as decimal.

kube-apiserver parses Service and Endpoint addresses with Go's pre-1.17 parser (``netutils
.ParseIPSloppy``): ``10.96.0.011`` is accepted and means 10.96.0.11, never octal 10.96.0.9
(CVE-2021-29923). Python's :mod:`ipaddress` refuses leading zeros and ``inet_aton`` reads them
as octal, so every reader of a stored address goes through :func:`parse_ip_sloppy` (the
allocator, kube-proxy's service map, the cluster DNS) and uses the canonical form.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["canonical_ip", "parse_ip_sloppy"]

_DOTTED_DECIMAL = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")


def parse_ip_sloppy(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``text`` names (IPv4 octets decimal, leading zeros allowed), or None."""
    match = _DOTTED_DECIMAL.match(text)
    if match is not None:
        octets = [int(part) for part in match.groups()]
        return ipaddress.IPv4Address(bytes(octets)) if max(octets) <= 255 else None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def canonical_ip(text: str) -> str:
    """``text`` in canonical form when it is an address (``10.96.0.011`` -> ``10.96.0.11``),
    else unchanged."""
    address = parse_ip_sloppy(text)
    return str(address) if address is not None else text
