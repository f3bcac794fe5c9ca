"""The apiserver role's admission configuration: its inventory variables render into a
PodSecurityConfiguration the API server loads (upstream's privileged defaults unless set)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kprov.cluster.apiserver.admission.podsecurity import PodSecurityConfig
from kprov.cluster.apiserver.admission.podsecurity.configuration import load_admission_config
from kprov.provision.templates import TemplateEngine

DEFAULTS = Path(__file__).resolve().parents[3] / "roles" / "apiserver" / "defaults" / "main.yml"


def _rendered(tmp_path: Path, **inventory: Any) -> PodSecurityConfig:
    defaults = yaml.safe_load(DEFAULTS.read_text())
    scope = TemplateEngine().scope([(inventory, True), (defaults, True)])  # highest first
    content = scope.template("{{ apiserver_admission_config | to_nice_yaml }}", "test")
    flag = "--admission-control-config-file={{ apiserver_admission_config_file }}"
    assert flag in defaults["apiserver_args"]
    path = tmp_path / "admission-config.yaml"
    path.write_text(content)
    return load_admission_config(str(path))


def test_defaults_are_upstreams(tmp_path: Path) -> None:
    assert _rendered(tmp_path) == PodSecurityConfig()


def test_inventory_sets_defaults_and_exemptions(tmp_path: Path) -> None:
    config = _rendered(
        tmp_path,
        pod_security_default_enforce="baseline",
        pod_security_default_warn="restricted",
        pod_security_default_warn_version="v1.30",
        pod_security_exempt_namespaces=["ops"],
        pod_security_exempt_usernames=["ci-bot"],
    )
    assert str(config.defaults.enforce) == "baseline:latest"
    assert str(config.defaults.warn) == "restricted:v1.30"
    assert config.exempt_namespaces == {"ops"} and config.exempt_usernames == {"ci-bot"}
