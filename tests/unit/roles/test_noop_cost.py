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
