"""Three-step modules tested as data (pyinfra-style): for each case of
data/contract/<module>.yml, the module's arguments and the output of its probes (in the
order ``probes`` lists them) go in, and the plan's fields named in ``plan`` must come out."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.provision.connect.base import CommandResult

DATA = Path(__file__).parent / "data" / "contract"


def _cases() -> list[Any]:
    out = []
    for file in sorted(DATA.glob("*.yml")):
        for case in yaml.safe_load(file.read_text()):
            out.append(pytest.param(file.stem, case, id=f"{file.stem}: {case['case']}"))
    return out


def _result(probe: Any) -> CommandResult:
    if isinstance(probe, dict):
        return CommandResult(rc=probe.get("rc", 0), stdout=probe.get("stdout", ""),
                             stderr=probe.get("stderr", ""))
    return CommandResult(rc=0, stdout=str(probe), stderr="")


@pytest.mark.parametrize(("module_name", "case"), _cases())
def test_plan_from_args_and_probes(module_name: str, case: dict[str, Any]) -> None:
    if module_name == "htpasswd":  # a virtualenv made before libpass joined the dependencies
        pytest.importorskip("passlib.apache", reason="pip install -e . (libpass) for htpasswd's cases")
    module = importlib.import_module(f"kprov.provision.modules.{module_name}").MODULE
    params = module.params(case["args"])
    commands = module.probes(params)
    assert len(commands) == len(case["probes"]), commands
    observed = {cmd: _result(probe) for cmd, probe in zip(commands, case["probes"], strict=True)}
    plan = module.decide(params, observed)
    for key, expected in case["plan"].items():
        assert getattr(plan, key) == expected, (key, getattr(plan, key))
