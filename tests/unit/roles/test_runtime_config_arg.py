"""The apiserver role's ``apiserver_runtime_config``: rendered into the unit's command as one
``--runtime-config`` flag that kprov-apiserver reads back, and absent when the map is empty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kprov.cluster.apiserver.__main__ import parse_args
from kprov.provision.templates import TemplateEngine

ROLES = Path(__file__).resolve().parents[3] / "roles"
DEFAULTS = ROLES / "apiserver" / "defaults" / "main.yml"
TASKS = ROLES / "apiserver" / "tasks" / "main.yml"
SHARED = ROLES / "kprov_defaults" / "defaults" / "main.yml"
_REQUIRED = ["--etcd-servers=https://127.0.0.1:2379", "--tls-cert-file=c", "--tls-private-key-file=k",
             "--client-ca-file=ca"]


def _command(**inventory: Any) -> list[str]:
    task = next(t for t in yaml.safe_load(TASKS.read_text()) if t["name"] == "Write the API server unit")
    defaults = yaml.safe_load(DEFAULTS.read_text())
    shared = yaml.safe_load(SHARED.read_text())
    inventory = {"apiserver_args": _REQUIRED, **inventory}  # the real list needs the etcd group's hosts
    scope = TemplateEngine().scope([(inventory, True), (defaults, True), (shared, True)])
    command = scope.template(task["vars"]["component_command"], "test")
    assert isinstance(command, list)
    return [str(part) for part in command]


def test_no_flag_by_default() -> None:
    command = _command()
    assert not [c for c in command if c.startswith("--runtime-config")]
    assert parse_args(command[1:]).runtime_config == ()


def test_the_map_becomes_one_flag_the_server_reads() -> None:
    command = _command(apiserver_runtime_config={
        "admissionregistration.k8s.io/v1beta1": True,
        "flowcontrol.apiserver.k8s.io/v1beta3": "true",
        "api/alpha": False,
    })
    flags = [c for c in command if c.startswith("--runtime-config")]
    assert flags == ["--runtime-config=admissionregistration.k8s.io/v1beta1=true,"
                     "flowcontrol.apiserver.k8s.io/v1beta3=true,api/alpha=false"]
    assert parse_args(command[1:]).runtime_config == (
        ("admissionregistration.k8s.io/v1beta1", True),
        ("flowcontrol.apiserver.k8s.io/v1beta3", True),
        ("api/alpha", False),
    )
