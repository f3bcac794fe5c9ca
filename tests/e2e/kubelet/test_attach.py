"""kubectl attach, run -i --rm and exec/attach with a terminal, as users run them: stock
kubectl 1.32 -> kprov-apiserver (WebSocket v5) -> the kubelet -> containerd's CRI Attach."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import termios
import time

import pytest

from tests.e2e.kubelet.cluster import BUSYBOX, HOST, NodeCluster
from tests.e2e.kubelet.conftest import apply, pod_manifest
from tests.e2e.kubelet.test_pods import running, wait_for

pytestmark = pytest.mark.lab

_ON_NODE = json.dumps({"apiVersion": "v1", "spec": {"nodeName": HOST}})  # no scheduler in this cluster


def _kubectl(cluster: NodeCluster) -> list[str]:
    return ["kubectl", "--kubeconfig", str(cluster.admin_kubeconfig)]


def _gone(cluster: NodeCluster, namespace: str, name: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = cluster.kubectl("get", "pod", name, "-n", namespace, check=False)
        if result.returncode != 0 and "NotFound" in result.stderr:
            return True
        time.sleep(0.5)
    return False


def _run_in_terminal(argv: list[str], keys: bytes, timeout: float = 60) -> tuple[int, str]:
    """Run ``argv`` on a 100x30 pseudo-terminal, type ``keys`` once it printed something or
    after a second, and return its exit code and everything it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    output = b""
    typed = False
    started = time.monotonic()
    deadline = started + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
            if not typed and time.monotonic() - started > 2:
                os.write(master, keys)
                typed = True
            if proc.poll() is not None and not ready:
                break
        return proc.wait(timeout=max(1, deadline - time.monotonic())), output.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_run_with_piped_stdin_prints_it_and_removes_the_pod(
    node_cluster: NodeCluster, namespace: str
) -> None:
    result = subprocess.run(
        [*_kubectl(node_cluster), "run", "-n", namespace, "-i", "--rm", "--restart=Never",
         f"--image={BUSYBOX}", "--image-pull-policy=IfNotPresent", f"--overrides={_ON_NODE}", "cat-t",
         "--", "cat"],
        input="hi from stdin\n", capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "hi from stdin" in result.stdout
    assert "couldn't attach" not in result.stderr  # kubectl falls back to logs when attach fails
    assert _gone(node_cluster, namespace, "cat-t")


def test_attach_streams_output_and_stdin_of_a_running_container(
    node_cluster: NodeCluster, namespace: str
) -> None:
    script = "while read line; do echo got:$line; done"
    apply(node_cluster, namespace, pod_manifest(
        "reader", [{"name": "r", "command": ["sh", "-c", script], "stdin": True}]
    ))
    wait_for(node_cluster, namespace, "reader", running)
    proc = subprocess.Popen(
        [*_kubectl(node_cluster), "attach", "-n", namespace, "-i", "reader", "-c", "r"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        time.sleep(2)  # the attach is up before the line goes in (stdin is not buffered for later)
        proc.stdin.write("ping\n")
        proc.stdin.flush()
        line = ""
        deadline = time.monotonic() + 30
        while "got:ping" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        assert "got:ping" in line
    finally:
        proc.terminate()
        proc.wait(10)
    logs = node_cluster.kubectl("logs", "-n", namespace, "reader").stdout
    assert "got:ping" in logs  # what an attacher types is the container's own stdin


def test_exec_with_a_terminal_sees_its_size_and_prints_no_resize_error(
    node_cluster: NodeCluster, namespace: str
) -> None:
    apply(node_cluster, namespace, pod_manifest("tty", [{"name": "t", "command": ["sleep", "3600"]}]))
    wait_for(node_cluster, namespace, "tty", running)
    code, output = _run_in_terminal(
        [*_kubectl(node_cluster), "exec", "-it", "-n", namespace, "tty", "--", "sh"],
        b"stty size; exit 3\r",
    )
    assert "30 100" in output, output
    assert "resize" not in output.lower(), output
    assert code == 3, output


def test_run_interactive_with_a_terminal_and_rm(node_cluster: NodeCluster, namespace: str) -> None:
    code, output = _run_in_terminal(
        [*_kubectl(node_cluster), "run", "-n", namespace, "-it", "--rm", "--restart=Never",
         f"--image={BUSYBOX}", "--image-pull-policy=IfNotPresent", f"--overrides={_ON_NODE}", "shell",
         "--", "sh"],
        b"echo marker-$((6*7)); exit\r",
        timeout=90,
    )
    assert "marker-42" in output, output
    assert code == 0, output
    assert _gone(node_cluster, namespace, "shell")
