"""kprov-ingress's HAProxy reloads are confirmed against the real haproxy: the serving
worker reports the stamped file's digest, and a reload it does not take is an error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kprov.cluster.ingress.haproxy import HAProxy, ReloadNotTaken, stamp

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")


def _config(admin: Path, port: int, server: str) -> str:
    return "\n".join([
        "# test", "global", f"    stats socket {admin} mode 600 level admin expose-fd listeners",
        "defaults", "    mode http", "    timeout connect 1s", "    timeout client 1s",
        "    timeout server 1s",
        "frontend web", f"    bind 127.0.0.1:{port}", "    default_backend app",
        "backend app", f"    server s1 {server}", "",
    ])


def test_stamp_puts_a_digest_of_the_text_in_the_global_section() -> None:
    one, digest_one = stamp("# x\nglobal\n    maxconn 10\n")
    two, digest_two = stamp("# x\nglobal\n    maxconn 11\n")
    assert one.splitlines()[2] == f"    description {digest_one}" and digest_one != digest_two
    assert stamp("defaults\n") == ("defaults\n", "")


async def test_a_reload_returns_once_the_new_file_serves_and_fails_when_it_never_does(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    admin, path = tmp_path / "admin.sock", tmp_path / "haproxy.cfg"
    proxy = HAProxy(str(path), admin_socket=str(admin), confirm_s=3.0)
    first, first_digest = stamp(_config(admin, unused_tcp_port, "127.0.0.1:1"))
    path.write_text(first)
    try:
        await proxy.apply(first_digest)
        assert await proxy.serving() == first_digest
        second, second_digest = stamp(_config(admin, unused_tcp_port, "127.0.0.1:2"))
        path.write_text(second)
        await proxy.apply(second_digest)
        assert await proxy.serving() == second_digest and proxy.reloads == 1
        # a file whose digest never serves (what a lost reload looks like): signalled again, then an error
        with pytest.raises(ReloadNotTaken, match="still serves kprov-ingress-"):
            await proxy.apply("kprov-ingress-never")
        assert proxy.reloads == 2 and proxy.running
    finally:
        await proxy.stop(grace=2)
