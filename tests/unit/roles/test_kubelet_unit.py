"""The kubelet role's unit starts the process under upstream's name: systemd's ``@`` gives
argv[0] ``<venv>/bin/kubelet`` (what ``pidof kubelet`` matches) while Python runs the module."""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

import yaml

from kprov.provision.templates import TemplateEngine

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "kubelet"
SHARED = REPO / "roles" / "kprov_defaults" / "defaults" / "main.yml"
HOST = {"inventory_hostname": "h4", "kprov_node_ip": "10.77.0.14", "kprov_venv": "/opt/kprov/venv"}


def _exec_start() -> list[str]:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    shared = yaml.safe_load(SHARED.read_text())
    scope = TemplateEngine().scope([(HOST, True), (defaults, True), (shared, True)])
    name = "kprov-kubelet.service.j2"
    unit = scope.render((ROLE / "templates" / name).read_text(), name)
    line = next(x for x in unit.replace("\\\n", " ").splitlines() if x.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def test_the_kubelet_process_is_named_kubelet_and_runs_kprovs_module() -> None:
    words = _exec_start()
    program, argv0 = words[0], words[1]
    assert program.startswith("@") and program.endswith("/bin/python")  # "@": the next word is argv[0]
    assert Path(argv0).name == "kubelet"
    assert Path(argv0).parent == Path(program[1:]).parent  # under the venv: the upgrade check finds it there
    assert words[2:4] == ["-m", "kprov.cluster.kubelet"]
    assert importlib.util.find_spec("kprov.cluster.kubelet.__main__") is not None
    assert "--kubeconfig" in words and "--node-name" in words


def test_the_ingress_controllers_ports_reach_the_kubelet_from_the_shared_defaults() -> None:
    words = _exec_start()
    assert words[words.index("--host-service-ports") + 1] == "kprov-ingress.service=80,443"
