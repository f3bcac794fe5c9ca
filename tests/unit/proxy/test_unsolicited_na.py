"""IPv6 layer-2 announcement: the unsolicited Neighbour Advertisement's bytes, and one sent
for real from an address the speaker added (``nodad``) in a throwaway network namespace,
captured off the wire on the other end of a veth pair."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kprov.cluster.proxy.unsolicited_na import advertisement

MAC = bytes.fromhex("0a1b2c3d4e5f")


def test_advertisement_bytes() -> None:
    message = advertisement(MAC, "fd77:77:5::200")
    assert message[:8] == bytes([136, 0, 0, 0, 0x20, 0, 0, 0])  # NA, code 0, checksum 0, Override
    assert message[8:24] == ipaddress.IPv6Address("fd77:77:5::200").packed
    assert message[24:] == b"\x02\x01" + MAC  # target link-layer address, 8 bytes
    with pytest.raises(ValueError):
        advertisement(MAC[:5], "fd77:77:5::200")
    with pytest.raises(ValueError):
        advertisement(MAC, "10.77.5.200")


SCRIPT = textwrap.dedent("""
    import json, socket, struct, subprocess, sys
    from pathlib import Path
    from kprov.cluster.proxy.announced_addresses import AnnouncedAddresses
    from kprov.cluster.proxy.unsolicited_na import send_advertisement

    def ip(*args):
        subprocess.run(["ip", *args], check=True)

    ip("link", "add", "va", "type", "veth", "peer", "name", "vb")
    ip("link", "set", "va", "up")
    ip("link", "set", "vb", "up")
    address = "fd77:77:5::200"
    AnnouncedAddresses(Path(sys.argv[1])).add(address, "va")
    shown = json.loads(subprocess.run(["ip", "-j", "-6", "addr", "show", "dev", "va"],
                                      capture_output=True, text=True, check=True).stdout)
    info = next(i for i in shown[0]["addr_info"] if i["local"] == address)
    capture = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86DD))
    capture.bind(("vb", 0))
    capture.settimeout(5)
    send_advertisement("va", address)
    while True:
        frame = capture.recv(2048)
        if frame[14 + 6] == 58 and frame[14 + 40] == 136:  # ICMPv6 Neighbour Advertisement
            break
    print(json.dumps({"tentative": bool(info.get("tentative")), "prefixlen": info["prefixlen"],
                      "frame": frame.hex(), "mac": Path("/sys/class/net/va/address").read_text().strip()}))
""")


def _checksum(source: bytes, destination: bytes, payload: bytes) -> int:
    pseudo = source + destination + len(payload).to_bytes(4, "big") + b"\x00\x00\x00\x3a"
    data = pseudo + payload + (b"\x00" if len(payload) % 2 else b"")
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"),
                    reason="needs root, unshare and ip for a throwaway network namespace")
def test_an_announced_ipv6_address_is_usable_at_once_and_advertised_on_the_wire(tmp_path: Path) -> None:
    import json

    root = Path(__file__).resolve().parents[3]
    # a mount namespace too: /sys mounted again shows the new namespace's links (the MAC is read there)
    command = 'mount -t sysfs sysfs /sys && exec "$0" -c "$1" "$2"'
    proc = subprocess.run(["unshare", "--net", "--mount", "sh", "-c", command, sys.executable, SCRIPT,
                           str(tmp_path)],
                          capture_output=True, text=True, timeout=30, cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert not seen["tentative"] and seen["prefixlen"] == 128  # nodad: the kernel answers NS at once
    frame = bytes.fromhex(seen["frame"])
    mac = bytes.fromhex(seen["mac"].replace(":", ""))
    assert frame[:6] == bytes.fromhex("333300000001") and frame[6:12] == mac  # to all nodes, from va
    header, icmp = frame[14:54], frame[54:]
    assert header[7] == 255  # hop limit: receivers drop NDP with any other
    source, destination = header[8:24], header[24:40]
    assert source == ipaddress.IPv6Address("fd77:77:5::200").packed
    assert destination == ipaddress.IPv6Address("ff02::1").packed
    payload_length = int.from_bytes(header[4:6], "big")
    icmp = icmp[:payload_length]
    assert icmp[0] == 136 and icmp[4] & 0x20  # Neighbour Advertisement, Override
    assert icmp[8:24] == source and icmp[24:] == b"\x02\x01" + mac
    assert _checksum(source, destination, icmp) == 0  # the kernel filled the checksum in
