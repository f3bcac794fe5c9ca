"""The apiserver role's admission configuration: its inventory variables render into a
PodSecurityConfiguration the API server loads (upstream's privileged defaults unless set)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kprov.cluster.apiserver.admission.podsecurity import PodSecurityConfig
from kprov.cluster.apiserver.admission.podsecurity.configuration import load_admission_config
from kprov.provision.templates import TemplateEngine

ROLES = Path(__file__).resolve().parents[3] / "roles"
DEFAULTS = ROLES / "apiserver" / "defaults" / "main.yml"
SHARED = ROLES / "kprov_defaults" / "defaults" / "main.yml"  # the role's meta dependency


def _rendered(tmp_path: Path, **inventory: Any) -> PodSecurityConfig:
    defaults = yaml.safe_load(DEFAULTS.read_text())
    shared = yaml.safe_load(SHARED.read_text())
    scope = TemplateEngine().scope([(inventory, True), (defaults, True), (shared, True)])  # highest first
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


def test_the_cis_profile_enforces_restricted_outside_kube_system(tmp_path: Path) -> None:
    config = _rendered(tmp_path, hardening_profile="cis")
    assert str(config.defaults.enforce) == "restricted:latest"
    assert str(config.defaults.audit) == str(config.defaults.warn) == "restricted:latest"
    assert config.exempt_namespaces == {"kube-system"}
    # an inventory's own choice still wins over the profile
    assert str(_rendered(tmp_path, hardening_profile="cis", pod_security_default_enforce="baseline")
               .defaults.enforce) == "baseline:latest"
