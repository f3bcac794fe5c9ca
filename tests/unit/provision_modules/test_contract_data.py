"""Every module tested as data (pyinfra-style), by one generic test.

For each case of data/contract/<module>.yml, the module's arguments go in, its declared
probes (``probes(params, view)``) must be as many as the case's probe outputs, and then:

* ``plan``: a three-step module's ``decide`` gets the outputs (in the order the probes are
  declared) and the plan's fields named must come out;
* ``raises``: ``params`` refuses the arguments with this message;
* ``result``: the module's ``run`` gets the outputs from its probe cache (none of its declared
  probes may run live), every other command it sends answers rc 0 (or as ``ran`` scripts
  it), and the result's fields named must come out; ``commands`` lists what it sent after
  its probes (files it wrote show as ``put PATH``).

``view`` (check_mode, query, check_run), ``diff`` and ``files`` (controller files by kind/name, for
copy, template and unarchive) set the task around the module. Also here: every module under
kprov/provision/modules has a case file and a decide of its own (its run goes through it), and
nothing in the engine knows a recording mode.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.provision.connect.base import CommandResult
from kprov.provision.connect.fake import FakeConnector
from kprov.provision.modules.base import ModuleArgsError, ModuleContext, ModuleFailed, ProbeKey, TaskView
from kprov.provision.modules.contract import ThreeStepModule, carry_out, decide_then_act
from kprov.provision.modules.registry import guarded

DATA = Path(__file__).parent / "data" / "contract"
KPROV = Path(__file__).resolve().parents[3] / "kprov"
MODULES = KPROV / "provision" / "modules"


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


class _Store:
    """A probe cache holding the case's probe outputs."""

    def __init__(self, results: dict[ProbeKey, CommandResult]) -> None:
        self.results = results
        self.read: set[ProbeKey] = set()

    def get(self, key: ProbeKey) -> CommandResult | None:
        if key in self.results:
            self.read.add(key)
        return self.results.get(key)

    def store(self, key: ProbeKey, result: CommandResult) -> None:
        return None

    def invalidate(self) -> None:
        self.results = {}


def _find_file(root: Path) -> Any:
    def find(name: str, kind: str) -> Path:
        path = root / kind / name
        if not path.exists():
            raise FileNotFoundError(name)
        return path
    return find


@pytest.mark.parametrize(("module_name", "case"), _cases())
def test_case(module_name: str, case: dict[str, Any], tmp_path: Path) -> None:
    if module_name == "htpasswd":  # a virtualenv made before libpass joined the dependencies
        pytest.importorskip("passlib.apache", reason="pip install -e . (libpass) for htpasswd's cases")
    for name, content in (case.get("files") or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    module = importlib.import_module(f"kprov.provision.modules.{_module_paths()[module_name]}").MODULE
    given = case.get("view") or {}
    view = TaskView(check_mode=given.get("check_mode", False), query=given.get("query", False),
                    find_file=_find_file(tmp_path))
    if "raises" in case:  # arguments the module refuses before it reads anything
        with pytest.raises((ModuleArgsError, ModuleFailed)) as refused:
            module.params(case["args"])
        assert str(refused.value) == case["raises"]
        return
    params = module.params(case["args"])
    commands = module.probes(params, view)
    assert len(commands) == len(case["probes"]), commands
    observed = {cmd: _result(probe) for cmd, probe in zip(commands, case["probes"], strict=True)}
    if "plan" in case:
        plan = module.decide(params, observed)
        for key, expected in case["plan"].items():
            assert getattr(plan, key) == expected, (key, getattr(plan, key))
        return
    connector = FakeConnector()
    for rule in case.get("ran") or []:
        connector.on(rule["match"], rc=rule.get("rc", 0), stdout=rule.get("stdout", ""),
                     stderr=rule.get("stderr", ""))
    connector.on(".", rc=0)
    ctx = ModuleContext(connector=connector, check_mode=view.check_mode, diff=case.get("diff", False),
                        find_file=view.find_file, render_template=lambda text, settings: text)
    ctx.query = view.query
    ctx.check_run = given.get("check_run", False)  # the whole run in check mode (kprov plan)
    store = _Store({ctx.probe_key(cmd): result for cmd, result in observed.items()})
    ctx.probes = store
    result = guarded(lambda: module.run(ctx, case["args"]))
    # the declared probes come from the cache: the first command sent acts (a re-read after
    # acting runs live, as it must)
    assert connector.command_lines[:1] == [] or connector.command_lines[0] not in observed, \
        "a declared probe ran live"
    sent = [*connector.command_lines, *(f"put {put.path}" for put in connector.puts)]
    if "commands" in case:
        assert sent == case["commands"]
    for key, expected in case["result"].items():
        actual = result.data.get(key) if key == "data" or not hasattr(result, key) else getattr(result, key)
        if key == "data":
            actual = {k: result.data.get(k) for k in expected}
        assert actual == expected, (key, actual)


def _module_paths() -> dict[str, str]:
    """Each module file's name -> its dotted path under kprov.provision.modules (the wings)."""
    return {
        path.stem: ".".join(path.relative_to(MODULES).with_suffix("").parts)
        for path in sorted(MODULES.rglob("*.py"))
        if re.search(r"^MODULE = ", path.read_text(), re.M)
    }


def _module_files() -> list[str]:
    return sorted(_module_paths())


def test_every_module_has_a_case_file() -> None:
    names = _module_files()
    assert len(names) > 30
    missing = [name for name in names if not (DATA / f"{name}.yml").is_file()]
    assert missing == [], f"modules without data/contract/<name>.yml: {missing}"


def test_every_module_declares_its_probes_and_parses_its_params() -> None:
    for name, dotted in _module_paths().items():
        module = importlib.import_module(f"kprov.provision.modules.{dotted}").MODULE
        for method in ("params", "probes", "run"):
            assert callable(getattr(type(module), method, None)), (name, method)
        assert isinstance(module.changes_judged_by_task, bool), name


# a run goes through its decide: by calling it, or by handing the module to decide_then_act
_THROUGH_DECIDE = re.compile(r"\bself\.decide\(|\bdecide_then_act\(self\b")


def _run_goes_through_decide(module_type: type) -> bool:
    """Whether the module's ``run`` (its own or inherited) reaches its ``decide``: itself,
    through ``decide_then_act``, through ``super().run`` or through another method of the
    module that it calls (apt's ``detach``)."""
    mro = module_type.__mro__
    todo = [next(owner for owner in mro if "run" in owner.__dict__).__dict__["run"]]
    seen: set[Any] = set()
    while todo:
        function = todo.pop()
        if function in seen:
            continue
        seen.add(function)
        source = inspect.getsource(function)
        if _THROUGH_DECIDE.search(source):
            return True
        if "super().run(" in source:
            owner = mro.index(next(cls for cls in mro if cls.__dict__.get("run") is function))
            todo.append(next(cls for cls in mro[owner + 1:] if "run" in cls.__dict__).__dict__["run"])
        for name in re.findall(r"\bself\.(\w+)\(", source):
            called = inspect.getattr_static(module_type, name, None)
            called = getattr(called, "__func__", called)  # a static or class method
            if inspect.isfunction(called):
                todo.append(called)
    return False


def test_every_module_decides_then_acts() -> None:
    """One contract (modules.contract): every module has a pure ``decide`` of its own and an
    ``act``, and its ``run`` (its own or inherited) goes through its ``decide``: no decision
    made inside ``run`` alone. No allow-list: every module is converted."""
    offenders = []
    for name, dotted in _module_paths().items():
        module_type = type(importlib.import_module(f"kprov.provision.modules.{dotted}").MODULE)
        decide, act = getattr(module_type, "decide", None), getattr(module_type, "act", None)
        if not callable(decide) or decide is ThreeStepModule.decide or not callable(act):
            offenders.append(f"{name}: no decide/act")
        elif not _run_goes_through_decide(module_type):
            offenders.append(f"{name}: run decides without decide")
    assert offenders == []
    # the shared conductors themselves call the module's decide and act
    assert "module.decide(" in inspect.getsource(decide_then_act)
    assert "module.act(" in inspect.getsource(carry_out)
    assert _THROUGH_DECIDE.search(inspect.getsource(ThreeStepModule.run))


def test_the_engine_knows_no_recording_mode() -> None:
    """Probes are declared (Module.probes), never learnt by running a module until it stops."""
    offenders = []
    for path in sorted((KPROV / "provision").rglob("*.py")):
        text = path.read_text()
        if re.search(r"ProbeRecorded|\brecording\b|first_probe|read_early", text):
            offenders.append(str(path.relative_to(KPROV)))
    for path in sorted(KPROV.rglob("*.py")):
        if "ProbeRecorded" in path.read_text():
            offenders.append(str(path.relative_to(KPROV)))
    assert offenders == []
