"""Port-forward's dial: a connection to a server bound only to a namespace's loopback, made from
outside it (as upstream's runtime reaches a pod's 127.0.0.1). A real network namespace; root."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import pytest

from kprov.cluster.kubelet.streaming.netns_dial import dial_in_netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


def test_a_server_on_a_namespaces_loopback_answers_through_the_dial() -> None:
    name = f"nsdial-test-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    server = None
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        code = ("import socket; s = socket.socket(); s.bind(('127.0.0.1', 17171)); s.listen(); "
                "c, _ = s.accept(); c.sendall(b'hello from ' + c.recv(16)); c.close()")
        server = subprocess.Popen(["ip", "netns", "exec", name, "python3", "-c", code])
        deadline = time.monotonic() + 10
        while subprocess.run(["ip", "netns", "exec", name, "sh", "-c", "ss -ltn | grep -q 17171"]).returncode:
            assert time.monotonic() < deadline, "the server in the namespace never listened"
            time.sleep(0.1)

        async def main() -> bytes:
            with pytest.raises(OSError):  # the same port on the node's own loopback: nothing
                await asyncio.open_connection("127.0.0.1", 17171)
            reader, writer = await dial_in_netns(f"/var/run/netns/{name}", 17171)
            writer.write(b"the pod")
            await writer.drain()
            data = await reader.read()
            writer.close()
            return data

        before = os.readlink("/proc/thread-self/ns/net")
        assert asyncio.run(main()) == b"hello from the pod"
        assert os.readlink("/proc/thread-self/ns/net") == before  # this thread never left the node's
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "del", name], check=False)
