"""The ingress_controller role's unit: its inventory variables render into kprov-ingress's
command line and the unit's journal settings (HAProxy's access log goes to the journal)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kprov.provision.templates import TemplateEngine

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "ingress_controller"
SHARED = REPO / "roles" / "kprov_defaults" / "defaults" / "main.yml"
HOST = {"inventory_hostname": "h4", "kprov_node_ip": "10.77.0.14", "kprov_venv": "/opt/kprov/venv"}


def _unit(**inventory: Any) -> str:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    shared = yaml.safe_load(SHARED.read_text())
    tasks = yaml.safe_load((ROLE / "tasks" / "main.yml").read_text())
    task = next(t for t in tasks if t.get("name") == "Write the kprov-ingress unit")
    scope = TemplateEngine().scope([(task["vars"], True), ({**HOST, **inventory}, True), (defaults, True),
                                    (shared, True)])  # highest first
    template = (REPO / "templates" / "kprov-component.service.j2").read_text()
    return scope.render(template, "kprov-component.service.j2")


def _command(unit: str) -> list[str]:
    start = unit.index("ExecStart=") + len("ExecStart=")
    end = unit.index("\nRestart=", start)
    return [word.rstrip("\\").strip() for word in unit[start:end].split(" \\\n")]


def test_defaults_no_journal_rate_limit_and_threads_left_to_the_controller() -> None:
    unit = _unit()
    assert "\nLogRateLimitIntervalSec=0\n" in unit  # a busy access log is not cut at ~330 lines/s
    command = _command(unit)
    assert command[0] == "/opt/kprov/venv/bin/kprov-ingress"
    assert "--publish-address=10.77.0.14" in command
    assert not any(word.startswith("--haproxy-threads") for word in command)


def test_inventory_sets_threads_and_restores_a_rate_limit() -> None:
    unit = _unit(ingress_haproxy_threads=3, ingress_access_log_rate_limit_interval="30s")
    assert "--haproxy-threads=3" in _command(unit)
    assert "\nLogRateLimitIntervalSec=30s\n" in unit
