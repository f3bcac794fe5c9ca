"""Docker Hub's nginx stand-in serves nginx's document root as the real image does (client
suites write files there and fetch them, or look for the welcome heading); the e2e suite's
nginx stays agnhost's netexec."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from kprov.images.offline import PlannedImage, image_roots, standin_recipe, standin_spec
from kprov.images.recipes import BUSYBOX_PATH

pytestmark = pytest.mark.skipif(not BUSYBOX_PATH.exists(), reason="needs Debian's busybox-static")


def _spec(reference: str, repo: str, tmp_path: Path) -> tuple[str, list[str], dict[str, bytes | None]]:
    agnhost = tmp_path / "agnhost"
    agnhost.write_bytes(b"#!/bin/sh\n")
    recipe = standin_recipe(repo, have_agnhost=True)
    assert recipe is not None
    spec = standin_spec(PlannedImage(reference, *recipe), image_roots(agnhost))
    assert spec is not None
    return recipe[0], spec.entrypoint or [], {f.path: f.data for f in spec.files}


def test_docker_hubs_nginx_serves_its_document_root_with_busybox_httpd(tmp_path: Path) -> None:
    for reference, repo in (("docker.io/library/nginx:latest", "library/nginx"), ("nginx", "nginx")):
        recipe, entrypoint, files = _spec(reference, repo, tmp_path)
        assert recipe == "nginx-standin"
        assert entrypoint[:3] == ["/bin/busybox", "sh", "-c"]
        assert "/bin/busybox httpd -f -p 80 -h /usr/share/nginx/html &" in entrypoint[3]
        assert b"<h1>Welcome to nginx!</h1>" in (files["usr/share/nginx/html/index.html"] or b"")
        assert "bin/busybox" in files and "bin/sh" in files  # dd and sh for what clients exec there


def test_the_e2e_suites_nginx_stays_netexec(tmp_path: Path) -> None:
    reference = "registry.k8s.io/e2e-test-images/nginx:1.15-4"
    recipe, entrypoint, _ = _spec(reference, "e2e-test-images/nginx", tmp_path)
    assert recipe == "http-standin" and entrypoint == ["/agnhost", "netexec", "--http-port=80"]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare (a PID namespace)")
def test_the_busybox_httpd_stand_ins_stop_on_sigterm_as_a_containers_first_process(tmp_path: Path) -> None:
    """A container's first process ignores signals it has no handler for; busybox httpd has
    none, so a pod of the stand-in waited out its grace period where nginx stops at once."""
    _, entrypoint, _ = _spec("docker.io/library/nginx:latest", "library/nginx", tmp_path)
    root = tmp_path / "usr/share/nginx/html"
    root.mkdir(parents=True)
    command = [a.replace("/usr/share/nginx/html", str(root)) for a in entrypoint]
    # its own PID namespace (the command is its process 1) and network namespace (port 80)
    outer = subprocess.Popen(["unshare", "--pid", "--net", "--fork", "--kill-child", *command])
    try:
        first = 0
        for _ in range(100):  # unshare's child (the namespace's process 1), once port 80 listens
            children = Path(f"/proc/{outer.pid}/task/{outer.pid}/children").read_text().split()
            if children and _listens_on_80(int(children[0])):
                first = int(children[0])
                break
            time.sleep(0.05)
        assert first, "the stand-in did not start"
        os.kill(first, signal.SIGTERM)
        assert outer.wait(timeout=10) == 0  # (before: it never stopped, SIGKILL ended it)
    finally:
        if outer.poll() is None:
            outer.kill()
            outer.wait()


def _listens_on_80(pid: int) -> bool:
    """Whether a socket listens on port 80 (IPv4 or IPv6) in the network namespace of ``pid``."""
    try:
        rows = [row for table in ("tcp", "tcp6")
                for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]]
    except OSError:
        return False
    return any(r.split()[1].endswith(":0050") and r.split()[3] == "0A" for r in rows)
