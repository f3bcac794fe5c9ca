"""The e2e command names the API server kubectl reaches: the admin kubeconfig's current
context's (kprov's names each API server too; the framework would take a random one)."""

from __future__ import annotations

from pathlib import Path

import yaml

from kprov.conformance.suite import E2ESuite, Workarounds, current_server


def _kubeconfig(tmp_path: Path) -> Path:
    clusters = [{"name": n, "cluster": {"server": f"https://10.0.0.{i}:6443"}}
                for i, n in enumerate(["kprov-h2", "kprov", "kprov-h1"], start=2)]
    contexts = [{"name": "admin@kprov", "context": {"cluster": "kprov", "user": "admin"}},
                {"name": "admin@kprov-h2", "context": {"cluster": "kprov-h2", "user": "admin"}}]
    path = tmp_path / "admin.conf"
    path.write_text(yaml.safe_dump({"clusters": clusters, "contexts": contexts,
                                    "current-context": "admin@kprov"}))
    return path


def test_the_command_passes_the_current_contexts_server_as_host(tmp_path: Path) -> None:
    kubeconfig = _kubeconfig(tmp_path)
    assert current_server(kubeconfig) == "https://10.0.0.3:6443"
    command = E2ESuite(Path("/bin/e2e.test")).command(
        kubeconfig=kubeconfig, report_dir=tmp_path, focus="x", kubectl="kubectl",
        workarounds=Workarounds(), timeout_min=10)
    assert "--host=https://10.0.0.3:6443" in command
    assert current_server(tmp_path / "missing.conf") == ""


def test_num_nodes_is_passed_only_when_given(tmp_path: Path) -> None:
    suite, kubeconfig = E2ESuite(Path("/bin/e2e.test")), _kubeconfig(tmp_path)

    def command(num_nodes: int | None) -> list[str]:
        return suite.command(kubeconfig=kubeconfig, report_dir=tmp_path, focus="x", kubectl="kubectl",
                             workarounds=Workarounds(), timeout_min=10, num_nodes=num_nodes)

    assert not any(arg.startswith("--num-nodes") for arg in command(None))
    assert "--num-nodes=2" in command(2)
