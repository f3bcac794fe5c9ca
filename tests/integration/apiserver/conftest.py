"""Helpers for the API server acceptance tests: run stock kubectl against the control plane."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.apiserver._http import request, ssl_context

KUBECTL = "/usr/bin/kubectl"

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def kubectl(control_plane, tmp_path: Path) -> Kubectl:  # type: ignore[no-untyped-def]
    """``kubectl("get", "ns")`` as admin; ``check=False`` to inspect failures; ``kubeconfig=``,
    ``input=``, ``env=`` and ``timeout=`` pass through. Each test has its own --cache-dir."""
    if not os.path.exists(KUBECTL):
        pytest.skip("kubectl is not installed")
    cache = tmp_path / "kube-cache"

    def run(
        *args: str,
        check: bool = True,
        kubeconfig: Path | None = None,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            KUBECTL,
            "--kubeconfig",
            str(kubeconfig or control_plane.admin_kubeconfig),
            "--cache-dir",
            str(cache),
            *args,
        ]
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    return run


@pytest.fixture
def namespace(kubectl: Kubectl) -> str:
    """A fresh namespace per test (created through kubectl's protobuf path)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    return name


@pytest.fixture
def admin(control_plane):  # type: ignore[no-untyped-def]
    """``admin("GET", path[, body])``: a raw HTTPS request as the cluster admin (status,
    headers, decoded body)."""
    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    return lambda *args, **kw: request(control_plane.server, context, *args, **kw)
