"""Run the real kubectl against a throwaway loopback HTTP server that records request bodies."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def kubectl_available() -> bool:
    return Path(KUBECTL).exists()


class _Recorder(BaseHTTPRequestHandler):
    bodies: list[tuple[str, str, bytes]]

    def _reply(self, code: int, obj: dict) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        path = self.path.split("?", 1)[0]
        if path == "/version":
            self._reply(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0"})
        elif path in self.server.documents:  # type: ignore[attr-defined]
            self._reply(200, self.server.documents[path])  # type: ignore[attr-defined]
        else:
            self._reply(
                404,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "code": 404,
                    "reason": "NotFound",
                    "message": "not found",
                },
            )

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.bodies.append((self.path, self.headers.get("Content-Type", ""), body))  # type: ignore[attr-defined]
        reply = {"apiVersion": "v1", "kind": "Status", "metadata": {"name": "x"}}
        if self.headers.get("Content-Type", "").startswith("application/json"):
            reply = json.loads(body)
        if "selfsubjectaccessreviews" in self.path:
            reply = {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {},
                "status": {"allowed": True},
            }
        self._reply(201, reply)

    def log_message(self, *args: object) -> None:
        pass


def capture_posts(
    commands: list[list[str]], home: Path, documents: dict[str, dict] | None = None
) -> list[tuple[str, str, bytes]]:
    """Run each kubectl command; return (path with query, content type, body) of every POST it made.

    `documents` maps GET paths (without query) to JSON replies, e.g. discovery and OpenAPI.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.bodies = []  # type: ignore[attr-defined]
    server.documents = documents or {}  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        env = {"KUBECONFIG": "/dev/null", "HOME": str(home), "PATH": "/usr/bin:/bin"}
        for command in commands:
            subprocess.run(
                [KUBECTL, "--server", url, "--cache-dir", str(home / "cache"), *command],
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
            )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    return list(server.bodies)  # type: ignore[attr-defined]
