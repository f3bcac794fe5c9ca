"""A kopf operator (the unmodified framework, from PyPI) runs against a real control plane
(issue 20): it sees a custom object created, its handler's outcome lands in the object's
status, kopf's own bookkeeping annotation is written, the Event it posts is there; an update
runs the update handler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kopf")

GROUP = "kopf-test.kprov.io"
OPERATOR = '''
import kopf

@kopf.on.create("kopf-test.kprov.io", "v1", "greetings")
def greet(spec, patch, body, **_):
    patch.status["message"] = "hello " + spec["who"]
    kopf.info(body, reason="Greeted", message="greeted " + spec["who"])
    return {"greeted": spec["who"]}

@kopf.on.update("kopf-test.kprov.io", "v1", "greetings", field="spec.who")
def regreet(new, patch, **_):
    patch.status["message"] = "hello again " + new
'''


def _crd() -> dict[str, Any]:
    schema = {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"who": {"type": "string"}}},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"greetings.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": "greetings", "singular": "greeting", "kind": "Greeting"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": schema}}]}}


def _wait(what: str, probe: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def test_a_kopf_operator_handles_a_custom_resource(control_plane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kubeconfig = str(control_plane.admin_kubeconfig)

    def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin, text=True,
                              capture_output=True, timeout=60, check=False)

    namespace = f"kopf-{uuid.uuid4().hex[:6]}"
    assert kubectl("apply", "-f", "-", stdin=json.dumps(_crd())).returncode == 0
    assert kubectl("create", "namespace", namespace).returncode == 0
    _wait("the CRD established", lambda: kubectl("get", "greetings", "-n", namespace).returncode == 0)
    operator = tmp_path / "operator.py"
    operator.write_text(OPERATOR)
    log = (tmp_path / "kopf.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", namespace,
                             str(operator)], env={**os.environ, "KUBECONFIG": kubeconfig},
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        body = {"apiVersion": f"{GROUP}/v1", "kind": "Greeting", "metadata": {"name": "g1"},
                "spec": {"who": "world"}}
        assert kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(body)).returncode == 0

        def status() -> dict[str, Any]:
            got = kubectl("get", "greeting", "g1", "-n", namespace, "-o", "json")
            return json.loads(got.stdout) if got.returncode == 0 else {}

        obj = _wait("the create handler's status",
                    lambda: (o := status()).get("status", {}).get("greet") and o)
        assert obj["status"]["message"] == "hello world"
        assert obj["status"]["greet"] == {"greeted": "world"}
        assert "kopf.zalando.org/last-handled-configuration" in obj["metadata"]["annotations"]

        def posted() -> list[dict[str, Any]]:
            events = json.loads(kubectl("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
            return [e for e in events if e.get("reason") == "Greeted"]

        [event] = _wait("the handler's Event", posted, 30)
        assert event["message"] == "greeted world" and event["type"] == "Normal"
        assert event["involvedObject"]["kind"] == "Greeting" and event["involvedObject"]["name"] == "g1"
        assert kubectl("patch", "greeting", "g1", "-n", namespace, "--type", "merge",
                       "-p", '{"spec": {"who": "kprov"}}').returncode == 0
        _wait("the update handler", lambda: status().get("status", {}).get("message") == "hello again kprov")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        kubectl("delete", "namespace", namespace, "--wait=false")
        kubectl("delete", "crd", f"greetings.{GROUP}", "--wait=false")
    assert proc.returncode is not None
