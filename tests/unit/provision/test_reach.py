"""One way to reach a host: ``{{ }}`` in a host's connection variables is rendered the same
for apply (the connect phase), delegation (``delegate_to``), ``kprov etcd`` and ``kprov
images`` and ``kprov verify``, each in the host's own scope; only connection variables are rendered (a broken
template elsewhere in the host's variables does not stop it being reached)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.etcdops.cluster import EtcdCluster
from kprov.images.targets import targets_from_inventory
from kprov.provision.connect.base import Connector
from kprov.provision.connect.fake import FakeConnector
from kprov.provision.connect.reach import reach_inventory_host, rendered_host_vars
from kprov.provision.errors import TemplateError
from kprov.provision.execute import RunOptions
from kprov.provision.execute.task.setup import TaskSetup
from kprov.provision.inventory import load_inventory
from kprov.provision.phases.connect import connection_vars
from kprov.provision.pipelines import open_run

NET = "10.1.2"


def _inventory(tmp_path: Path, **h1: Any) -> Path:
    data = {"all": {
        "vars": {
            "net": NET,
            # each host's address from its place in the etcd group: a template over magic variables
            "ansible_host": "{{ net }}.{{ groups['etcd'].index(inventory_hostname) + 11 }}",
            "ansible_port": "{{ 2200 + 22 }}",
            "kprov_jump_host": "bastion@{{ net }}.1",
            "unrelated": "{{ never_defined }}",
        },
        "hosts": {"h1": h1 or None, "h2": None},
        "children": {"etcd": {"hosts": {"h1": None, "h2": None}}},
    }}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _where(connector: Connector) -> tuple[str, int, str | None]:
    settings = connector.settings  # type: ignore[attr-defined]
    return settings.address, settings.port, settings.jump.address if settings.jump else None


def test_outside_a_run_the_inventory_scope_renders_them(tmp_path: Path) -> None:
    inventory = load_inventory(_inventory(tmp_path))
    assert _where(reach_inventory_host(inventory, "h2")) == (f"{NET}.12", 2222, f"{NET}.1")


def test_apply_and_delegation_render_them_in_the_hosts_scope(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    run = open_run([str(_inventory(tmp_path))], RunOptions(), playbook_dir=tmp_path)
    try:
        given = connection_vars(run, "h1")
        assert (given["ansible_host"], str(given["ansible_port"])) == (f"{NET}.11", "2222")
        assert given["kprov_jump_host"] == f"bastion@{NET}.1" and "unrelated" not in given
        setup = TaskSetup(run, None, run.hosts["h1"])  # type: ignore[arg-type]
        assert _where(setup._reach("h2", run.hosts["h2"])) == (f"{NET}.12", 2222, f"{NET}.1")
        assert _where(setup._reach("h2", None)) == (f"{NET}.12", 2222, f"{NET}.1")
    finally:
        run.log.close()


def test_kprov_etcd_renders_them_for_its_sessions_and_peer_urls(tmp_path: Path) -> None:
    seen: dict[str, dict[str, Any]] = {}

    def connect(host: str, variables: Any) -> FakeConnector:
        seen[host] = dict(variables)
        return FakeConnector(host)

    with EtcdCluster(_inventory(tmp_path), connect=connect) as cluster:
        cluster.session("h2")
        assert cluster.peer_url("h1") == f"https://{NET}.11:2380"
    assert (seen["h2"]["ansible_host"], str(seen["h2"]["ansible_port"])) == (f"{NET}.12", "2222")
    assert "unrelated" not in seen["h2"]


def test_kprov_images_renders_them_for_its_uploads(tmp_path: Path) -> None:
    targets = targets_from_inventory(_inventory(tmp_path), "etcd")
    assert [(t.name, t.address) for t in targets] == [("h1", f"{NET}.11"), ("h2", f"{NET}.12")]
    assert _where(targets[0].connector()) == (f"{NET}.11", 2222, f"{NET}.1")


def test_verify_reads_each_hosts_rendered_address_and_keeps_its_other_variables_as_they_are(
        tmp_path: Path) -> None:
    inventory = load_inventory(_inventory(tmp_path))
    variables = rendered_host_vars(inventory, "h2")
    assert (variables["ansible_host"], str(variables["ansible_port"])) == (f"{NET}.12", "2222")
    assert variables["unrelated"] == "{{ never_defined }}"  # not a connection variable: untouched


def test_an_unrenderable_connection_variable_names_itself_and_the_host(tmp_path: Path) -> None:
    inventory = load_inventory(_inventory(tmp_path, ansible_user="{{ nobody_defined_this }}"))
    with pytest.raises(TemplateError, match=r"variable 'ansible_user' of host h1"):
        reach_inventory_host(inventory, "h1")
