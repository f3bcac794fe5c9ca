"""Objects bigger than etcd takes (``--max-request-bytes``, 1.5 MiB by default) yet within the
API's own 3 MiB body limit: a 500 naming etcd's refusal, as kube-apiserver answers, never a
503 telling clients to retry what cannot succeed; and the refused write fails alone.

etcd 3.4 refuses such a request itself up to 2 MiB ("etcdserver: request is too large",
INVALID_ARGUMENT) and in its gRPC server beyond ("grpc: received message larger than max",
RESOURCE_EXHAUSTED); both sizes are tried.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

SMALL = 20


def _configmap(name: str, value: str) -> bytes:
    return json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": value}}
    ).encode()


def _assert_too_large(status: int, reply: Any) -> None:
    assert status == 500, (status, reply)
    # kube-apiserver's Status for etcd's refusal: code 500, no reason, etcd's words first
    assert reply["kind"] == "Status" and reply["code"] == 500 and "reason" not in reply, reply
    assert "request is too large" in reply["message"] and "--max-request-bytes" in reply["message"]


@pytest.mark.parametrize("size", [2_000_000, 2_600_000])
def test_create_above_etcds_limit_is_500_and_fails_alone(admin, namespace, size: int) -> None:  # type: ignore[no-untyped-def]
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    bodies = [_configmap("big", "x" * size)] + [_configmap(f"small{i}", str(i)) for i in range(SMALL)]
    start = threading.Barrier(len(bodies))

    def create(body: bytes) -> tuple[int, dict[str, str], Any]:
        start.wait()  # all at once, so the small writes are batched while the big one is refused
        return admin("POST", path, body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        (big_status, _, big_reply), *smalls = pool.map(create, bodies)
    _assert_too_large(big_status, big_reply)
    assert [status for status, _, _ in smalls] == [201] * SMALL
    assert admin("GET", f"{path}/big")[0] == 404  # nothing of it was written
    names = sorted(item["metadata"]["name"] for item in admin("GET", path)[2]["items"])
    assert names == sorted(f"small{i}" for i in range(SMALL))
    status, _, reply = admin("POST", path, _configmap("after", "ok"))  # the server goes on
    assert status == 201 and reply["data"] == {"v": "ok"}


def test_update_above_etcds_limit_is_500_and_keeps_the_object(admin, namespace) -> None:  # type: ignore[no-untyped-def]
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    status, _, created = admin("POST", path, _configmap("grows", "small"))
    assert status == 201
    bigger = {**created, "data": {"v": "x" * 2_000_000}}
    status, _, reply = admin("PUT", f"{path}/grows", json.dumps(bigger).encode())
    _assert_too_large(status, reply)
    status, _, current = admin("GET", f"{path}/grows")
    assert status == 200 and current["data"] == {"v": "small"}
    assert current["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_kubectl_create_from_a_2mb_file_says_request_is_too_large(kubectl, namespace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data.bin"
    data.write_text("x" * 2_000_000)
    result = kubectl("-n", namespace, "create", "configmap", "big", f"--from-file={data}", check=False)
    assert result.returncode != 0
    # etcd's words as kube-apiserver passes them on, not wrapped as an internal error
    assert "failed to create configmap: etcdserver: request is too large" in result.stderr, result.stderr
    kubectl("-n", namespace, "create", "configmap", "small", "--from-literal=a=b")
