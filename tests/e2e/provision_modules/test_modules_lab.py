"""Connectors, facts and every module against real lab hosts (systemd-nspawn machines with
real sshd, systemd, apt from the lab's local repository).

Each module is run twice: changed, then ok; check mode is shown to change nothing; the host's
state is verified through the lab's own SSH path (not through the connector under test).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.lab import Lab
from kprov.provision.connect import CommandTimeoutError, UnreachableError, connector_for
from kprov.provision.connect.base import Connector
from kprov.provision.facts import gather_facts
from kprov.provision.modules import ModuleContext, ModuleResult, get_module

pytestmark = pytest.mark.lab

BASE = "/root/kprov-modules-test"


def host_vars(lab: Lab, host: str) -> dict[str, Any]:
    inventory = yaml.safe_load(lab.inventory_text(2))["all"]
    return {**inventory["vars"], **inventory["hosts"][host]}


@pytest.fixture(scope="module")
def lab2(lab_hosts: Callable[[int], Lab]) -> Lab:
    return lab_hosts(2)


@pytest.fixture(scope="module")
def conn(lab2: Lab) -> Iterator[Connector]:
    connector = connector_for("h1", host_vars(lab2, "h1"))
    connector.connect()
    lab2.ssh("h1", f"rm -rf {BASE}; mkdir -p {BASE}")
    yield connector
    connector.close()
    lab2.ssh("h1", f"rm -rf {BASE}")


@pytest.fixture
def run(conn: Connector, tmp_path: Path) -> Callable[..., ModuleResult]:
    def find_file(name: str, kind: str) -> Path:
        return tmp_path / kind / name

    def runner(module: str, args: dict[str, Any], *, check: bool = False) -> ModuleResult:
        ctx = ModuleContext(
            connector=conn,
            check_mode=check,
            diff=True,
            find_file=find_file,
            render_template=lambda text, settings: text.replace("{{ who }}", "lab"),
        )
        result = get_module(module).run(ctx, args)
        return result

    return runner


def twice(run: Callable[..., ModuleResult], module: str, args: dict[str, Any]) -> ModuleResult:
    """Check mode, then for real (changed), then again (ok); returns the real run's result."""
    checked = run(module, args, check=True)
    assert checked.changed and not checked.failed, checked.msg
    first = run(module, args)
    assert first.changed and not first.failed, first.msg
    second = run(module, args)
    assert not second.changed and not second.failed, (second.msg, second.diff)
    return first


def test_ssh_connector_basics(conn: Connector, lab2: Lab) -> None:
    result = conn.run("cat; echo err >&2; exit 3", stdin=b"payload")
    assert (result.rc, result.stdout, result.stderr) == (3, "payload", "err\n")
    conn.put(b"\x00binary\xff" * 1000, f"{BASE}/blob", mode=0o600)
    assert conn.get(f"{BASE}/blob") == b"\x00binary\xff" * 1000
    assert lab2.ssh("h1", f"stat -c %a {BASE}/blob; ls -a {BASE} | grep -c kprov-")[1].split() == ["600", "0"]
    assert conn.run("id -un", become=True, become_user="nobody").stdout.strip() == "nobody"
    with pytest.raises(FileNotFoundError):
        conn.get(f"{BASE}/missing")


def test_persistent_shell_isolation_timeouts_and_big_stdin(conn: Connector) -> None:
    assert conn.run("cd /tmp; FOO=1; exit 7").rc == 7
    assert conn.run('pwd; echo "[$FOO]"').stdout.split() == ["/root", "[]"], "nothing leaks between commands"
    assert conn.run("printf 'no newline'").stdout == "no newline"
    with pytest.raises(CommandTimeoutError):
        conn.run("sleep 10", timeout=0.5)
    assert conn.run("echo back").stdout == "back\n", "a new shell after a timeout"
    big = bytes(range(256)) * 1024
    assert conn.run("sha1sum", stdin=big).stdout.split()[0] == hashlib.sha1(big).hexdigest()
    assert conn.run("(sleep 0.2; echo stray) & echo started").stdout == "started\n"
    time.sleep(0.6)
    assert conn.run("echo next").stdout == "next\n", "a background job's late output is dropped"
    small = b"x" * 1000
    assert conn.run("wc -c", stdin=small).stdout.strip() == "1000"


def test_unreachable_and_host_key_checking(
    lab2: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("KPROV_HOST_KEY_CHECKING", "ANSIBLE_HOST_KEY_CHECKING"):
        monkeypatch.delenv(name, raising=False)
    closed_port = {**host_vars(lab2, "h1"), "ansible_port": 1, "ansible_ssh_retries": 0, "ansible_timeout": 2}
    with pytest.raises(UnreachableError, match="cannot connect"):
        connector_for("h1", closed_port).connect()
    strict = {
        k: v
        for k, v in host_vars(lab2, "h1").items()
        if k not in ("ansible_ssh_common_args", "kprov_host_key_checking")
    }
    strict["ansible_ssh_common_args"] = f"-o UserKnownHostsFile={tmp_path / 'known_hosts'}"
    with pytest.raises(UnreachableError, match="known_hosts"):
        connector_for("h1", strict).connect()


def test_jump_host(lab2: Lab) -> None:
    via = {**host_vars(lab2, "h2"), "kprov_jump_host": f"root@{lab2.ip('h1')}"}
    with connector_for("h2", via) as connector:
        assert connector.run("hostname").stdout.strip() == "h2"


def test_facts(conn: Connector, lab2: Lab) -> None:
    facts = gather_facts(conn)
    assert facts["default_ipv4"]["address"] == lab2.ip("h1")
    assert lab2.ip("h1") in facts["all_ipv4_addresses"]
    assert facts["distribution"] == "Debian" and facts["distribution_major_version"] == "12"
    assert facts["service_mgr"] == "systemd"
    assert facts["hostname"] == "h1"
    assert facts["machine_id"] == lab2.ssh("h1", "cat /etc/machine-id")[1].strip()
    assert facts["python"]["version"]["major"] == 3


def test_file_modules(run: Callable[..., ModuleResult], lab2: Lab, tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "greet.j2").write_text("hello {{ who }}\n")
    twice(run, "file", {"path": f"{BASE}/etc", "state": "directory", "mode": "0750"})
    twice(
        run, "copy", {"content": "a=1\n", "dest": f"{BASE}/etc/app.conf", "mode": "0640", "owner": "nobody"}
    )
    twice(run, "template", {"src": "greet.j2", "dest": f"{BASE}/etc/greet"})
    twice(run, "lineinfile", {"path": f"{BASE}/etc/app.conf", "regexp": "^a=", "line": "a=2"})
    twice(run, "blockinfile", {"path": f"{BASE}/etc/app.conf", "block": "b=1"})
    twice(run, "file", {"src": f"{BASE}/etc/greet", "dest": f"{BASE}/greet-link", "state": "link"})
    out = lab2.ssh(
        "h1", f"stat -c '%a %U' {BASE}/etc {BASE}/etc/app.conf; cat {BASE}/etc/app.conf {BASE}/greet-link"
    )
    assert out[1] == (
        "750 root\n640 nobody\na=2\n# BEGIN ANSIBLE MANAGED BLOCK\nb=1\n"
        "# END ANSIBLE MANAGED BLOCK\nhello lab\n"
    )
    st = run("stat", {"path": f"{BASE}/etc/greet"}).data["stat"]
    assert st["exists"] and st["checksum"] == hashlib.sha1(b"hello lab\n").hexdigest()
    assert run("slurp", {"src": f"{BASE}/etc/greet"}).data["content"] == "aGVsbG8gbGFiCg=="


def test_command_and_archive(run: Callable[..., ModuleResult], tmp_path: Path, lab2: Lab) -> None:
    args = {"_raw_params": f"touch {BASE}/ran", "creates": f"{BASE}/ran"}
    # check mode with `creates` not yet there: a change it would make, as ansible-core reports it
    # (skipped only without creates/removes); nothing runs, so the real run below still changes
    checked = run("command", args, check=True)
    assert checked.changed and not checked.skipped, checked
    assert checked.msg == "Command would have run if not in check mode"
    assert run("command", args).changed and not run("command", args).changed
    (tmp_path / "files").mkdir()
    with tarfile.open(tmp_path / "files" / "a.tar.gz", "w:gz") as archive:
        info = tarfile.TarInfo("tool/bin")
        info.size, info.mtime = 2, 1_700_000_000
        archive.addfile(info, io.BytesIO(b"ok"))
    twice(run, "unarchive", {"src": "a.tar.gz", "dest": BASE})
    assert lab2.ssh("h1", f"cat {BASE}/tool/bin")[1] == "ok"


def test_get_url_with_checksum(run: Callable[..., ModuleResult], lab2: Lab) -> None:
    url = f"{lab2.layout.repo_url.rstrip('/')}/Release"
    with urllib.request.urlopen(url, timeout=10) as response:  # the lab's own repo server
        digest = hashlib.sha256(response.read()).hexdigest()
    twice(run, "get_url", {"url": url, "dest": f"{BASE}/Release", "checksum": f"sha256:{digest}"})
    bad = run("get_url", {"url": url, "dest": f"{BASE}/Release2", "checksum": "sha256:" + "0" * 64})
    assert bad.failed and "did not match" in bad.msg
    assert lab2.ssh("h1", f"ls -a {BASE} | grep -c Release2")[1].strip() == "0"


def test_systemd_unit(run: Callable[..., ModuleResult], lab2: Lab) -> None:
    unit = "kprov-modtest.service"
    run(
        "copy",
        {
            "dest": f"/etc/systemd/system/{unit}",
            "content": "[Unit]\nDescription=t\n[Service]\nExecStart=/bin/sleep infinity\n"
            "[Install]\nWantedBy=multi-user.target\n",
        },
    )
    try:
        twice(
            run,
            "ansible.builtin.systemd_service",
            {"name": unit, "state": "started", "enabled": True, "daemon_reload": True},
        )
        assert lab2.ssh("h1", f"systemctl is-active {unit}; systemctl is-enabled {unit}")[1].split() == [
            "active",
            "enabled",
        ]
        twice(run, "service", {"name": unit, "state": "stopped"})
        assert lab2.ssh("h1", f"systemctl is-active {unit}")[1].strip() == "inactive"
    finally:
        lab2.ssh(
            "h1", f"systemctl disable --now {unit}; rm -f /etc/systemd/system/{unit}; systemctl daemon-reload"
        )


def test_apt_from_lab_repo(run: Callable[..., ModuleResult], lab2: Lab) -> None:
    lab2.ssh("h1", "apt-get -y -q remove conntrack")
    try:
        first = twice(run, "apt", {"name": "conntrack", "update_cache": True, "cache_valid_time": 3600})
        assert "conntrack" in first.data["stdout"]
        assert lab2.ssh("h1", "dpkg-query -W -f='${Status}' conntrack")[1] == "install ok installed"
        twice(run, "package", {"name": "conntrack", "state": "absent"})
        assert "install ok installed" not in lab2.ssh("h1", "dpkg-query -W -f='${Status}' conntrack")[1]
        missing = run("apt", {"name": "no-such-package-kprov"})
        assert missing.failed and "no-such-package-kprov" in missing.msg
    finally:
        lab2.ssh("h1", "apt-get -y -q remove conntrack")


def test_kernel_modules_fail_clearly_in_containers(run: Callable[..., ModuleResult], lab2: Lab) -> None:
    conf = f"{BASE}/sysctl.conf"
    twice(
        run,
        "ansible.posix.sysctl",
        {"name": "net.ipv4.ip_forward", "value": "1", "sysctl_set": True, "sysctl_file": conf},
    )
    assert lab2.ssh("h1", "cat /proc/sys/net/ipv4/ip_forward")[1].strip() == "1"
    refused = run("sysctl", {"name": "vm.swappiness", "value": "7", "sysctl_set": True, "sysctl_file": conf})
    assert refused.failed and "read-only here" in refused.msg
    tolerated = run(
        "sysctl", {"name": "vm.max_map_count", "value": "262144", "sysctl_file": conf, "ignoreerrors": True}
    )
    assert not tolerated.failed
    module = run("community.general.modprobe", {"name": "br_netfilter"})
    assert module.failed and "cannot load kernel modules" in module.msg


def test_accounts_and_wait_for(run: Callable[..., ModuleResult], lab2: Lab) -> None:
    try:
        twice(run, "group", {"name": "kprovgrp", "gid": 4321})
        twice(
            run,
            "user",
            {
                "name": "kprovtest",
                "group": "kprovgrp",
                "shell": "/bin/sh",
                "home": "/var/lib/kprovtest",
                "system": True,
            },
        )
        assert (
            lab2.ssh("h1", "getent passwd kprovtest")[1].strip()
            == "kprovtest:x:"
            + lab2.ssh("h1", "id -u kprovtest")[1].strip()
            + ":4321::/var/lib/kprovtest:/bin/sh"
        )
        twice(run, "user", {"name": "kprovtest", "state": "absent"})
        twice(run, "group", {"name": "kprovgrp", "state": "absent"})
    finally:
        lab2.ssh("h1", "userdel kprovtest; groupdel kprovgrp")
    assert not run("wait_for", {"port": 22, "timeout": 5}).failed
    late = run("wait_for", {"port": 1, "timeout": 1, "connect_timeout": 1})
    assert late.failed and "Timeout when waiting for 127.0.0.1:1" in late.msg


def test_mount_a_tmpfs_through_its_own_fstab(run: Callable[..., ModuleResult], lab2: Lab) -> None:
    point, tab = f"{BASE}/mnt/scratch", f"{BASE}/fstab"
    args = {"path": point, "src": "tmpfs", "fstype": "tmpfs", "opts": "size=8m", "fstab": tab}
    try:
        twice(run, "ansible.posix.mount", {**args, "state": "mounted"})
        assert lab2.ssh("h1", f"findmnt -rn -o FSTYPE,OPTIONS --mountpoint {point}")[1].startswith("tmpfs ")
        assert lab2.ssh("h1", f"cat {tab}")[1] == f"tmpfs {point} tmpfs size=8m 0 0\n"
        changed = run("ansible.posix.mount", {**args, "opts": "size=16m", "state": "mounted"})
        assert changed.changed and not changed.failed, changed.msg  # the line, then a remount
        assert "size=16384k" in lab2.ssh("h1", f"findmnt -rn -o OPTIONS --mountpoint {point}")[1]
        twice(run, "ansible.posix.mount", {"path": point, "state": "unmounted", "fstab": tab})
        assert lab2.ssh("h1", f"findmnt --mountpoint {point}")[0] != 0
        twice(run, "ansible.posix.mount", {"path": point, "state": "absent", "fstab": tab})
        left = lab2.ssh("h1", f"cat {tab}; ls -d {point} 2>&1")[1].strip()
        assert left.endswith("No such file or directory"), left  # the line and the directory gone
    finally:
        lab2.ssh("h1", f"umount {point} 2>/dev/null; true")
