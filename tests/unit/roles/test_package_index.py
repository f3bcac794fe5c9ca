"""Every role that installs packages makes sure the apt index is there first, and a converged
host still pays nothing for it.

A host whose lists are empty (a cloud image or a minimal box, emptied when the image was
built) failed at the first install (`Unable to locate package haproxy`): each install task now
refreshes an index older than ``kprov_apt_cache_valid_time`` (``update_cache`` with
``cache_valid_time``, as Ansible roles do), and the index's age is read ahead with the
packages' states, so a no-op apply sends no command for it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.base import TaskView
from kprov.provision.modules.packages.apt import (
    CACHE_AGE_PROBE,
    MODULE,
    _query_script,
    cache_fresh,
    cache_time_script,
    parse_query,
)
from kprov.provision.templates import TemplateEngine

ROLES = Path(__file__).resolve().parents[3] / "roles"
APT = ("ansible.builtin.apt", "apt", "ansible.builtin.package", "package")


def _tasks(path: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in yaml.safe_load(path.read_text()) or []:
        found.append(item)
        for key in ("block", "rescue", "always", "tasks"):
            found += [t for t in item.get(key) or [] if isinstance(t, dict)]
    return found


def _installs() -> list[tuple[str, dict[str, Any]]]:
    """(where, apt arguments) of every role task that installs packages."""
    out = []
    for path in sorted([*ROLES.glob("*/tasks/*.yml"), *ROLES.glob("*.yml")]):
        for task in _tasks(path):
            for module in APT:
                args = task.get(module)
                if isinstance(args, dict) and args.get("state", "present") != "absent":
                    out.append((f"{path.relative_to(ROLES)}: {task.get('name')}", args))
    return out


def _defaults() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROLES / "kprov_defaults" / "defaults" / "main.yml").read_text())
    return loaded


def test_every_package_install_refreshes_an_old_index() -> None:
    installs = _installs()
    assert len(installs) >= 8  # common, cni, container_runtime, etcd, apiserver_lb, keepalived, ...
    offenders = []
    for where, args in installs:
        if where.startswith("etcd/"):  # refreshed when a package is missing (its own count task)
            refresh = args.get("update_cache")
            assert isinstance(refresh, str) and "etcd_packages_installed" in refresh
            continue
        valid_time = args.get("cache_valid_time")
        if args.get("update_cache") is not True or valid_time != "{{ kprov_apt_cache_valid_time }}":
            offenders.append(where)
    assert offenders == [], "install without update_cache + cache_valid_time: " + ", ".join(offenders)
    assert int(_defaults()["kprov_apt_cache_valid_time"]) > 0


def _declared(args: dict[str, Any], check_mode: bool = False) -> tuple[dict[str, Any], list[str]]:
    variables = {**_defaults(), "apiserver_lb_packages": ["haproxy"]}
    rendered = TemplateEngine().scope([(variables, True)]).template(args, "test")
    params = MODULE.params(rendered)
    return params, MODULE.probes(params, TaskView(check_mode=check_mode))


def test_a_converged_host_reads_the_index_age_ahead_and_sends_nothing() -> None:
    where, args = next((w, a) for w, a in _installs() if w.startswith("apiserver_lb/"))
    params, probes = _declared(args)
    assert probes[-1] == CACHE_AGE_PROBE and len(probes) == 2, where  # both in the look-ahead's batch
    installed = CommandResult(0, "PKG:haproxy\tii \t2.6.12-1+deb12u1\n", "")
    young = CommandResult(0, "CACHE:1700000000\nNOW:1700000900\n", "")
    plan = MODULE.decide(params, {probes[0]: installed, probes[1]: young})
    assert not plan.changed and plan.command == "" and plan.query_specs is None
    assert plan.data == {"cache_updated": False, "cache_update_time": 1700000000}
    # older than kprov_apt_cache_valid_time: the index is refreshed first (an action, sent live)
    old = CommandResult(0, f"CACHE:1700000000\nNOW:{1700000000 + int(params['cache_valid_time']) + 1}\n", "")
    assert MODULE.decide(params, {probes[0]: installed, probes[1]: old}).query_specs == ["haproxy"]


def test_an_emptied_index_is_refreshed_before_the_install() -> None:
    _, args = next((w, a) for w, a in _installs() if w.startswith("apiserver_lb/"))
    params, probes = _declared(args)
    # lists emptied when the image was built (a day ago), nothing installed: refresh first
    empty = MODULE.decide(params, {probes[0]: CommandResult(0, "", ""),
                                   probes[1]: CommandResult(0, "CACHE:1700000000\nNOW:1700086400\n", "")})
    assert empty.query_specs == ["haproxy"] and empty.command == ""


def _sh(script: str, path: str | None = None) -> CommandResult:
    env = {**os.environ, "PATH": f"{path}:{os.environ['PATH']}"} if path else None
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30, env=env)
    return CommandResult(done.returncode, done.stdout, done.stderr)


def test_an_emptied_lists_directory_counts_as_never_updated(tmp_path: Path) -> None:
    """``rm -rf /var/lib/apt/lists/*`` makes the directory's mtime new: ansible-core (and kprov
    before) took that as a fresh index and skipped the update (ansible/ansible#79206). With no
    ``*_Packages`` index the cache time is 0, also when the update-success stamp is young; the
    probe's and the update script's shell run here on temporary folders."""
    lists, stamp = tmp_path / "lists", tmp_path / "update-success-stamp"
    lists.mkdir()
    (lists / "partial").mkdir()  # what `rm -rf lists/*` and apt leave
    probe = cache_time_script(str(lists), str(stamp)) + "; echo CACHE:$m; echo NOW:$(date +%s)"
    assert cache_time_script() + "; echo CACHE:$m; echo NOW:$(date +%s)" == CACHE_AGE_PROBE
    emptied = _sh(probe)
    assert "CACHE:0\n" in emptied.stdout and cache_fresh(emptied, 3600) == (False, 0)
    stamp.touch()  # a young stamp does not make an empty index fresh either
    assert cache_fresh(_sh(probe), 3600)[0] is False
    (lists / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages").write_text("Package: x\n")
    fresh, cache_time = cache_fresh(_sh(probe), 3600)
    assert fresh and cache_time == int(stamp.stat().st_mtime)
    stamp.unlink()
    assert cache_fresh(_sh(probe), 3600) == (True, int(lists.stat().st_mtime))  # the directory's time
    for index in lists.glob("*_Packages"):
        index.unlink()
    (lists / "_opt_kprov_repo_._Packages.lz4").write_bytes(b"")  # a file: source's (the offline bundle)
    assert cache_fresh(_sh(probe), 3600)[0] is True


def test_the_update_runs_for_an_emptied_index_and_not_for_a_young_one(tmp_path: Path) -> None:
    lists, stamp, bin_dir = tmp_path / "lists", tmp_path / "stamp", tmp_path / "bin"
    lists.mkdir()
    bin_dir.mkdir()
    calls = tmp_path / "apt-get.calls"
    fake = bin_dir / "apt-get"  # records the update and writes an index, as apt-get update does
    fake.write_text(f"#!/bin/sh\necho \"$*\" >> {calls}\ntouch {lists}/example_Packages\n")
    fake.chmod(0o755)
    script = _query_script([], latest=False, update=True, valid_time=3600, lock_timeout=5,
                           lists=str(lists), stamp=str(stamp))
    first = _sh(script, str(bin_dir))
    assert first.rc == 0 and parse_query(first.stdout)[1] is True, first  # updated
    assert calls.read_text().count("update") == 1
    second = _sh(script, str(bin_dir))
    assert parse_query(second.stdout)[1] is False and calls.read_text().count("update") == 1  # young now
