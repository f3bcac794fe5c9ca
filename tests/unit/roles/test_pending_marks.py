"""The restart markers the pki and kprov_runtime roles write before a change: a rotation
marks only the components that read certificates (a marker nothing notifies would stay and
fail `kprov verify` after a complete run); a runtime switch marks every component."""

from __future__ import annotations

from pathlib import Path

import yaml

from kprov.provision.templates import TemplateEngine

DEFAULTS = Path(__file__).parents[3] / "roles" / "kprov_defaults" / "defaults" / "main.yml"


def _marked(**task_vars: object) -> set[str]:
    defaults = yaml.safe_load(DEFAULTS.read_text())
    scope = TemplateEngine().scope([(task_vars, True), (defaults, True)])
    text = str(scope["kprov_pending_marks"])
    return {c["handler"] for c in defaults["kprov_component_restart_handlers"] if f"'{c['handler']}'" in text}


def test_a_rotation_marks_only_what_reads_certificates() -> None:
    assert "Restart kprov-mirror-order" not in _marked(kprov_pending_for_pki=True)
    assert {"restart kprov-apiserver", "Restart kprov-kubelet"} <= _marked(kprov_pending_for_pki=True)


def test_a_runtime_switch_marks_every_component() -> None:
    assert "Restart kprov-mirror-order" in _marked()
    assert len(_marked()) == 8
