"""The kubelet role's Ready wait: Ready=True with a heartbeat after the restart."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from kprov.cluster.kubelet.node.readycheck import main, ready_since


def _node(status: str, beat: float) -> dict:
    stamp = datetime.fromtimestamp(beat, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"status": {"conditions": [
        {"type": "MemoryPressure", "status": "False"},
        {"type": "Ready", "status": status, "lastHeartbeatTime": stamp, "message": "m"},
    ]}}


def test_ready_after_the_start() -> None:
    assert ready_since(_node("True", 1000.0), 1000.4) == (True, "")
    assert ready_since(_node("True", 1010.0), 1000.0)[0]


def test_a_heartbeat_from_before_the_restart_is_not_proof() -> None:
    ready, why = ready_since(_node("True", 990.0), 1000.0)
    assert not ready and "before the start" in why


def test_not_ready_or_no_condition() -> None:
    assert ready_since(_node("False", 1000.0), 0) == (False, "Ready is False: m")
    assert ready_since({"status": {}}, 0) == (False, "no Ready condition yet")


def _serve(answers: list[dict]) -> tuple[ThreadingHTTPServer, list[str]]:
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            asked.append(self.path)
            body = json.dumps(answers[min(len(asked), len(answers)) - 1]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, asked


def _kubeconfig(tmp_path: Path, port: int) -> str:
    path = tmp_path / "kubelet.conf"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }))
    return str(path)


def test_wait_asks_again_in_the_same_process_until_ready(tmp_path: Path) -> None:
    now = time.time()
    server, asked = _serve([_node("False", now), _node("False", now), _node("True", now)])
    try:
        rc = main(["--kubeconfig", _kubeconfig(tmp_path, server.server_address[1]), "--node", "n1",
                   "--since", str(now - 1), "--wait", "10"])
    finally:
        server.shutdown()
    assert rc == 0 and asked == ["/api/v1/nodes/n1"] * 3


def test_without_wait_it_asks_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server, asked = _serve([_node("False", time.time())])
    try:
        rc = main(["--kubeconfig", _kubeconfig(tmp_path, server.server_address[1]), "--node", "n1"])
    finally:
        server.shutdown()
    assert rc == 1 and len(asked) == 1
    assert "not Ready: Ready is False" in capsys.readouterr().err
