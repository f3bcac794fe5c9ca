"""check_cluster against a stand-in kubectl (a script answering from files): nodes that
turn Ready within the wait pass, nodes that stay NotReady are named in the error."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from kprov.conformance.runner import ConformanceError, check_cluster


def _node(name: str, ready: bool) -> dict:
    return {"metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def _fake_kubectl(tmp_path: Path, ready_after_calls: int | None) -> str:
    """A kubectl whose `get nodes` reports h2 NotReady until call ``ready_after_calls``."""
    not_ready = json.dumps({"items": [_node("h1", True), _node("h2", False)]})
    ready = json.dumps({"items": [_node("h1", True), _node("h2", True)]})
    core = json.dumps({"resources": [{"name": "replicationcontrollers"}]})
    (tmp_path / "not_ready.json").write_text(not_ready)
    (tmp_path / "ready.json").write_text(ready)
    (tmp_path / "core.json").write_text(core)
    limit = ready_after_calls if ready_after_calls is not None else 10**9
    script = tmp_path / "kubectl"
    script.write_text(f"""#!/bin/sh
cd {tmp_path}
case "$*" in
  *"get nodes"*)
    n=$(cat calls 2>/dev/null || echo 0); n=$((n + 1)); echo $n > calls
    if [ $n -ge {limit} ]; then cat ready.json; else cat not_ready.json; fi ;;
  *"--raw"*) cat core.json ;;
  *) exit 0 ;;
esac
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_nodes_that_turn_ready_within_the_wait_pass(tmp_path: Path) -> None:
    kubectl = _fake_kubectl(tmp_path, ready_after_calls=2)
    workarounds = check_cluster(kubectl, tmp_path / "admin.conf", ready_wait_s=30)
    assert (tmp_path / "calls").read_text().strip() == "2"
    assert not workarounds.no_startup_pods_check and not workarounds.no_service_account_check


def test_a_node_that_stays_not_ready_is_named(tmp_path: Path) -> None:
    kubectl = _fake_kubectl(tmp_path, ready_after_calls=None)
    with pytest.raises(ConformanceError, match=r"nodes not Ready: h2;"):
        check_cluster(kubectl, tmp_path / "admin.conf", ready_wait_s=0)
