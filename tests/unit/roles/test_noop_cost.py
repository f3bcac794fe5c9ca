"""What keeps kprov's roles cheap on a converged cluster (a no-op apply: bench_cluster's
cluster_noop_s and noop_round_trips_per_host).

A task (not a handler) runs on every apply: one that acts every time (a literal
``daemon_reload: true``) drops the host's probe cache, so every later task of its play probes
live. Act-if-needed commands are guarded by a query the look-ahead reads in its batch.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from kprov.provision.templates import TemplateEngine

ROLES = Path(__file__).resolve().parents[3] / "roles"


def _tasks(path: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in yaml.safe_load(path.read_text()) or []:
        found.append(item)
        for key in ("block", "rescue", "always"):
            found += item.get(key) or []
    return found


def test_no_task_reloads_systemd_unconditionally() -> None:
    offenders = []
    for path in sorted(ROLES.glob("*/tasks/*.yml")):
        for task in _tasks(path):
            for module in ("ansible.builtin.systemd_service", "ansible.builtin.systemd", "systemd"):
                args = task.get(module)
                if isinstance(args, dict) and args.get("daemon_reload") is True:
                    offenders.append(f"{path.relative_to(ROLES)}: {task.get('name')}")
    assert offenders == [], "daemon_reload: true in a task reloads on every run; use '{{ unit is changed }}'"


def _role_task(role: str, name: str) -> dict[str, Any]:
    return next(t for t in _tasks(ROLES / role / "tasks" / "main.yml") if t.get("name") == name)


def _render(text: str, variables: dict[str, Any]) -> Any:
    return TemplateEngine().scope([(variables, True)]).template(text, "test")


def test_module_query_lists_only_missing_features(tmp_path: Path) -> None:
    task = _role_task("common", "Kernel modules not loaded yet")
    assert task["changed_when"] is False and task["check_mode"] is False  # a query: read ahead
    script = _render(task["ansible.builtin.shell"], {"common_kernel_modules": ["overlay", "no_such_mod_x"]})
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    assert "no_such_mod_x" in out.split()
    present = Path("/proc/filesystems").read_text().split()
    assert ("overlay" in out.split()) is not ("overlay" in present or Path("/sys/module/overlay").is_dir())


def test_etcd_refresh_assumes_installed_only_before_the_count_is_known() -> None:
    task = _role_task("etcd", "Install etcd from the host's package source")
    expr = task["ansible.builtin.apt"]["update_cache"]
    packages = ["etcd-server", "etcd-client"]
    unknown = {"changed": False, "failed": False, "skipped": False}  # the look-ahead's stand-in
    assert _render(expr, {"etcd_packages": packages, "etcd_packages_installed": unknown}) is False
    assert _render(expr, {"etcd_packages": packages, "etcd_packages_installed": {"stdout": "2"}}) is False
    assert _render(expr, {"etcd_packages": packages, "etcd_packages_installed": {"stdout": "1"}}) is True
    assert _render(expr, {"etcd_packages": packages, "etcd_packages_installed": {"stdout": ""}}) is True


def _control_plane_ready_script(host: str) -> str:
    task = next(t for t in _tasks(ROLES / "control_plane_ready" / "tasks" / "main.yml")
                if t.get("register") == "control_plane_ready")
    assert task["changed_when"] is False and "until" in task  # a query: its first attempt is read ahead
    return _render(task["ansible.builtin.shell"], {
        "inventory_hostname": host, "groups": {"etcd": ["h1"]}, "kprov_apiserver_port": 6443,
        "control_plane_ready_scheduler_port": 10259, "control_plane_ready_controller_manager_port": 10257,
        "control_plane_ready_etcd_pki": "/etc/kprov/pki/etcd", "control_plane_ready_etcd_port": 2379,
    })


def _run_with_fake_curl(
    tmp_path: Path, script: str, codes: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    calls.write_text("")
    curl = bin_dir / "curl"  # prints one status per transfer, as -w '%{http_code}\n' does
    curl.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\nfor c in $CODES; do echo $c; done\n')
    curl.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CODES": codes}
    proc = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env)
    return proc, calls.read_text().splitlines()


def test_control_plane_ready_asks_every_endpoint_in_one_curl(tmp_path: Path) -> None:
    # One process for the four health endpoints (was three curls and etcdctl: 48 ms of the
    # host's CPU on every apply, 17 ms now), and each failing endpoint still named.
    script = _control_plane_ready_script("h1")
    proc, calls = _run_with_fake_curl(tmp_path, script, "200 200 200 200")
    assert proc.returncode == 0 and len(calls) == 1
    assert "https://127.0.0.1:2379/health" in calls[0] and "--cert /etc/kprov/pki/etcd/admin.crt" in calls[0]
    proc, _ = _run_with_fake_curl(tmp_path, script, "200 503 200 000")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["kprov-scheduler: /healthz fails",
                                        "etcd member: endpoint health fails"]
    proc, _ = _run_with_fake_curl(tmp_path, script, "")  # curl gave no status at all
    assert proc.returncode == 1 and proc.stderr.count("fails") == 4


def test_control_plane_ready_asks_no_etcd_on_a_host_without_a_member(tmp_path: Path) -> None:
    proc, calls = _run_with_fake_curl(tmp_path, _control_plane_ready_script("h9"), "200 200 200")
    assert proc.returncode == 0 and len(calls) == 1 and "2379" not in calls[0]
