"""A DNS question asked from a host with nothing but its python3: the verify check that
the cluster DNS answers through the kube-dns ClusterIP (kube-proxy's path, as pods use it).

Hosts have no dig/nslookup and the kprov venv may not be on workers' PATH, so the probe is
a stdlib script (one A query, or AAAA on a dual-stack cluster, over UDP, three tries)
shipped base64-encoded in the command; it prints the rcode name and the addresses answered.
"""

from __future__ import annotations

import base64
import shlex

__all__ = ["PROBE_SCRIPT", "dns_probe_command", "parse_probe_output"]

PROBE_SCRIPT = r'''
import socket, struct, sys
name, server, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
qtype = int(sys.argv[4]) if len(sys.argv) > 4 else 1
q = struct.pack("!HHHHHH", 0x4b50, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split("."))
q += b"\0" + struct.pack("!HH", qtype, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
r = b""
for _ in range(3):
    try:
        s.sendto(q, (server, port))
        r = s.recv(65535)
        break
    except OSError:
        pass
if not r:
    print("TIMEOUT")
    sys.exit(2)
rcode = r[3] & 15
count = struct.unpack("!H", r[6:8])[0]
i, ips = len(q), []
for _ in range(count):
    while r[i] and r[i] < 0xC0:
        i += r[i] + 1
    i += 2 if r[i] >= 0xC0 else 1
    kind, _, _, size = struct.unpack("!HHIH", r[i:i + 10])
    i += 10
    if kind == 1:
        ips.append(socket.inet_ntoa(r[i:i + size]))
    elif kind == 28:
        ips.append(socket.inet_ntop(socket.AF_INET6, r[i:i + size]))
    i += size
print({0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN"}.get(rcode, str(rcode)), *ips)
'''


_QTYPES = {"A": 1, "AAAA": 28}


def dns_probe_command(
    name: str, server: str, port: int = 53, python: str = "python3", qtype: str = "A"
) -> str:
    code = base64.b64encode(PROBE_SCRIPT.encode()).decode()
    asked = f" {_QTYPES[qtype]}" if qtype != "A" else ""
    return (f"{python} -c \"$(echo {code} | base64 -d)\" "
            f"{shlex.quote(name)} {shlex.quote(server)} {int(port)}{asked}")


def parse_probe_output(out: str) -> tuple[str, list[str]]:
    words = out.split()
    return (words[0], words[1:]) if words else ("NO-OUTPUT", [])
