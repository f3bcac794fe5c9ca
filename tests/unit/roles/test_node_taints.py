"""site.yml taints a control-plane node NoSchedule unless the host is listed as a worker too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.provision.templates import TemplateEngine

SITE = Path(__file__).resolve().parents[3] / "roles" / "site.yml"


def _kubelet_vars() -> dict[str, Any]:
    for play in yaml.safe_load(SITE.read_text()):
        for role in play.get("roles", []):
            if isinstance(role, dict) and role.get("role") == "kubelet":
                return dict(role["vars"])
    raise AssertionError("site.yml has no kubelet role with vars")


@pytest.mark.parametrize(("host", "tainted"), [("h1", True), ("h2", False), ("h4", False)])
def test_taint_only_on_control_plane_hosts_that_are_not_workers(host: str, tainted: bool) -> None:
    groups = {"control_plane": ["h1", "h2"], "workers": ["h2", "h4"]}
    facts = {"groups": groups, "inventory_hostname": host, **_kubelet_vars()}
    scope = TemplateEngine().scope([(facts, True)])
    taints = scope.condition("kubelet_taints | length > 0", "test")
    assert taints is tainted
    labelled = scope.condition("'node-role.kubernetes.io/control-plane' in kubelet_node_labels", "test")
    assert labelled is (host in groups["control_plane"])


def test_no_workers_group_at_all() -> None:
    scope = TemplateEngine().scope([({"groups": {"control_plane": ["h1"]}, "inventory_hostname": "h1",
                                      **_kubelet_vars()}, True)])
    assert scope.condition("kubelet_taints == ['node-role.kubernetes.io/control-plane:NoSchedule']", "t")
