"""Idempotence decisions of the service/package/kernel/account modules, with a scripted host:
what they read (one command), what they decide, and that check mode never acts."""

from __future__ import annotations

import pytest

from kprov.provision.connect.fake import FakeConnector
from kprov.provision.modules import ModuleContext, get_module
from kprov.provision.modules.files.blockinfile import apply_block
from kprov.provision.modules.files.lineinfile import ensure_line, remove_lines
from kprov.provision.modules.packages.apt import PackageInfo, parse_query, plan_packages
from kprov.provision.modules.services.systemd_service import plan_unit
from kprov.provision.modules.system.sysctl import set_in_file

INACTIVE = "Id=etcd.service\nLoadState=loaded\nActiveState=inactive\nUnitFileState=disabled\n"
ACTIVE = "Id=etcd.service\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n"


def ctx(fake: FakeConnector, **kw) -> ModuleContext:
    return ModuleContext(connector=fake, diff=True, **kw)


def test_plan_unit_enables_what_ansible_core_does_not_count_as_enabled() -> None:
    for state in ("indirect", "enabled-runtime", "alias"):
        status = {"ActiveState": "inactive", "UnitFileState": state}
        assert plan_unit(status, state=None, enabled=True, masked=None) == ["enable"], state
        assert plan_unit(status, state=None, enabled=False, masked=None) == [], state
    enabled = {"ActiveState": "inactive", "UnitFileState": "enabled"}
    assert plan_unit(enabled, state=None, enabled=True, masked=None) == []
    # ansible-core reads `systemctl is-enabled -l`: an indirect unit listed with its installed
    # links counts as enabled, a bare "indirect" does not
    indirect = {"ActiveState": "inactive", "UnitFileState": "indirect"}
    linked = "indirect\n  /etc/systemd/system/sockets.target.wants/dummy.socket\n"
    assert plan_unit(indirect, state=None, enabled=True, masked=None, is_enabled=linked) == []
    assert plan_unit(indirect, state=None, enabled=True, masked=None, is_enabled="indirect\n") == ["enable"]
    assert plan_unit(enabled, state=None, enabled=True, masked=None, is_enabled="disabled\n") == ["enable"]


def test_plan_unit() -> None:
    assert plan_unit(
        {"ActiveState": "inactive", "UnitFileState": "disabled"}, state="started", enabled=True, masked=None
    ) == ["enable", "start"]
    assert (
        plan_unit(
            {"ActiveState": "active", "UnitFileState": "enabled"}, state="started", enabled=True, masked=None
        )
        == []
    )
    assert plan_unit(
        {"ActiveState": "active", "UnitFileState": "static"}, state="restarted", enabled=False, masked=None
    ) == ["restart"]
    assert plan_unit(
        {"ActiveState": "inactive", "UnitFileState": "masked", "LoadState": "masked"},
        state="started",
        enabled=None,
        masked=False,
    ) == ["unmask", "start"]


def test_systemd_one_query_then_one_action() -> None:
    fake = FakeConnector().on(r"systemctl show 'etcd\.service'|systemctl show etcd.service", stdout=INACTIVE)
    fake.on(r"^systemctl enable etcd.service && systemctl start etcd.service$")
    result = get_module("ansible.builtin.systemd_service").run(
        ctx(fake), {"name": "etcd.service", "state": "started", "enabled": True, "daemon_reload": True}
    )
    assert result.changed and not result.failed, result.msg
    assert fake.command_lines[0] == "systemctl daemon-reload && systemctl show etcd.service"
    assert len(fake.commands) == 2
    assert result.diff[0]["after"]["state"] == "active"


def test_systemd_reloads_a_unit_changed_on_disk_before_acting_on_it() -> None:
    stale = INACTIVE + "NeedDaemonReload=yes\n"
    fake = FakeConnector().on(r"^systemctl show etcd.service$", stdout=stale)
    fake.on(r"^systemctl daemon-reload && systemctl start etcd.service$")
    result = get_module("systemd_service").run(ctx(fake), {"name": "etcd.service", "state": "started"})
    assert result.changed and not result.failed, result.msg
    assert fake.command_lines[1] == "systemctl daemon-reload && systemctl start etcd.service"
    fake = FakeConnector().on(r"systemctl show", stdout=ACTIVE + "NeedDaemonReload=yes\n")
    noop = get_module("systemd_service").run(ctx(fake), {"name": "etcd.service", "state": "started"})
    assert not noop.changed and len(fake.commands) == 1  # nothing to do: nothing reloaded


def test_systemd_noop_and_check_mode() -> None:
    fake = FakeConnector().on(r"systemctl show", stdout=ACTIVE)
    noop = get_module("service").run(
        ctx(fake), {"name": "etcd.service", "state": "started", "enabled": "yes"}
    )
    assert not noop.changed and len(fake.commands) == 1 and noop.data["status"]["ActiveState"] == "active"
    fake = FakeConnector().on(r"systemctl show", stdout=INACTIVE)
    checked = get_module("systemd").run(
        ctx(fake, check_mode=True), {"name": "etcd.service", "state": "started"}
    )
    assert checked.changed and fake.command_lines == ["systemctl show etcd.service"]


def test_systemd_missing_unit_fails_clearly() -> None:
    fake = FakeConnector().on(r"systemctl show", stdout="LoadState=not-found\nActiveState=inactive\n")
    result = get_module("systemd_service").run(ctx(fake), {"name": "nope", "state": "started"})
    assert result.failed and "Could not find the requested service nope" in result.msg
    # a check-mode run (kprov plan): the package an earlier task installs is not there;
    # starting is the change
    whole = ctx(fake, check_mode=True)
    whole.check_run = True
    planned = get_module("systemd_service").run(whole,
                                                {"name": "containerd", "state": "started", "enabled": True})
    assert planned.changed and not planned.failed
    assert planned.msg == "would make containerd started and enabled (not on the host yet)"
    # one task in check mode in a real run: missing fails, as ansible-core's module does
    one = get_module("systemd_service").run(ctx(fake, check_mode=True), {"name": "nope", "state": "stopped"})
    assert one.failed and one.msg == "Could not find the requested service nope: host"


DPKG = (
    "CACHE:1700000000\nPKG:etcd-server\tii \t3.4.23-4+b4\nPKG:runc\tun \t\n"
    "PKG:containerd\trc \t1.6.20\nPOL:etcd-server\t3.4.23-4+b5\nPOL:runc\t1.1.5\n"
)


def test_apt_parse_and_plan() -> None:
    packages, updated, cache_time = parse_query(DPKG)
    assert not updated and cache_time == 1700000000
    assert packages["etcd-server"] == PackageInfo("etcd-server", "3.4.23-4+b4", False, "3.4.23-4+b5")
    assert packages["runc"].installed_version is None
    assert packages["containerd"].config_files_only
    assert plan_packages(["etcd-server", "runc"], packages, "present") == ["runc"]
    assert plan_packages(["etcd-server=3.4.*"], packages, "present") == []
    assert plan_packages(["etcd-server=3.5.*"], packages, "present") == ["etcd-server=3.5.*"]
    assert plan_packages(["etcd-server", "runc"], packages, "latest") == ["etcd-server", "runc"]
    assert plan_packages(["etcd-server", "runc"], packages, "absent") == ["etcd-server"]
    assert plan_packages(["containerd"], packages, "absent", purge=True) == ["containerd"]


def test_apt_noop_reads_only_and_install_only_missing() -> None:
    # the index younger than cache_valid_time: the packages and the index's age are read (the
    # look-ahead batches both), nothing updated
    young = "CACHE:1700000000\nNOW:1700003000\n"
    fake = FakeConnector().on(r"echo NOW:", stdout=young).on(r"dpkg-query", stdout=DPKG)
    args = {"name": ["etcd-server"], "cache_valid_time": 3600, "update_cache": True}
    noop = get_module("ansible.builtin.apt").run(ctx(fake), args)
    assert not noop.changed and len(fake.commands) == 2
    assert not any("apt-get" in line for line in fake.command_lines)
    # older: one more command, the update (then the packages read again with it)
    old = "CACHE:1700000000\nNOW:1700003601\n"
    fake = FakeConnector().on(r"echo NOW:", stdout=old).on(r"dpkg-query", stdout=DPKG)
    noop = get_module("ansible.builtin.apt").run(ctx(fake), args)
    assert not noop.changed and len(fake.commands) == 3
    assert "apt-get -q -o DPkg::Lock::Timeout=60 update" in fake.command_lines[-1]
    fake.on(r"apt-get -y -q .* install 'runc'|apt-get -y -q .* install runc", stdout="ok")
    installed = get_module("package").run(ctx(fake), {"name": "etcd-server,runc", "state": "present"})
    assert installed.changed and not installed.failed, installed.msg
    assert fake.command_lines[-1].endswith("install runc")


def test_apt_update_failure_is_reported() -> None:
    fake = FakeConnector().on(r"dpkg-query", rc=100, stderr="E: The repository is not signed")
    result = get_module("apt").run(ctx(fake), {"name": "runc", "update_cache": True})
    assert result.failed and "Failed to update apt cache" in result.msg


def test_sysctl_file_edit_and_readonly_failure() -> None:
    assert set_in_file("a=1\nvm.swappiness = 60\n", "vm.swappiness", "10") == "a=1\nvm.swappiness=10\n"
    assert set_in_file("vm/swappiness=10\n", "vm.swappiness", "10") == "vm/swappiness=10\n"
    assert set_in_file("x=1", "y", "2") == "x=1\ny=2\n"
    assert set_in_file("x=1\ny=2\n", "y", None) == "x=1\n"
    fake = FakeConnector().on(r"^printf 'FILE:'", stdout="FILE:\nLIVE:60 \n")
    fake.on(r"^sysctl -w", rc=255, stderr='sysctl: permission denied on key "vm.swappiness"')
    result = get_module("ansible.posix.sysctl").run(
        ctx(fake), {"name": "vm.swappiness", "value": 10, "sysctl_set": True, "sysctl_file": "/etc/s.conf"}
    )
    assert result.failed and "read-only here" in result.msg and "ignoreerrors" in result.msg
    assert fake.puts[0].path == "/etc/s.conf" and fake.puts[0].data == b"vm.swappiness=10\n"


def test_sysctl_noop_when_file_and_live_agree() -> None:
    fake = FakeConnector().on(r"^printf 'FILE:'", stdout="FILE:bmV0LmlwdjQuaXBfZm9yd2FyZD0xCg==\nLIVE:1 \n")
    result = get_module("sysctl").run(
        ctx(fake), {"name": "net.ipv4.ip_forward", "value": "1", "sysctl_set": True}
    )
    assert not result.changed and len(fake.commands) == 1


def test_modprobe_in_a_container_fails_clearly() -> None:
    fake = FakeConnector().on(r"/proc/modules", stdout="NOMODULES:1\nLOADCONF:\nOPTSCONF:\n")
    fake.on(r"^modprobe br_netfilter", rc=1, stderr="modprobe: FATAL: Module br_netfilter not found")
    result = get_module("community.general.modprobe").run(ctx(fake), {"name": "br_netfilter"})
    assert result.failed and "cannot load kernel modules" in result.msg
    loaded = FakeConnector().on(r"/proc/modules", stdout="LOADED:1\nLOADCONF:\nOPTSCONF:\n")
    assert not get_module("modprobe").run(ctx(loaded), {"name": "overlay"}).changed


def test_user_and_group_decisions() -> None:
    fake = FakeConnector().on(
        r"getent passwd",
        stdout="PW:etcd:x:998:998::/var/lib/etcd:/usr/sbin/nologin\nGROUPS:etcd\nGROUP:etcd\nSHADOW:!\n",
    )
    same = get_module("user").run(ctx(fake), {"name": "etcd", "home": "/var/lib/etcd", "system": True})
    assert not same.changed and same.data["uid"] == 998
    fake.on(r"^usermod -s /bin/bash etcd$")
    changed = get_module("user").run(ctx(fake), {"name": "etcd", "shell": "/bin/bash"})
    assert changed.changed and not changed.failed, changed.msg
    group = FakeConnector().on(r"^getent group kprov; true$", stdout="")
    planned = get_module("group").run(ctx(group, check_mode=True), {"name": "kprov", "gid": 1500})
    assert planned.changed and len(group.commands) == 1


def test_lineinfile_rules() -> None:
    assert ensure_line("a\nb\n", "c") == ("a\nb\nc\n", "line added")
    assert ensure_line("a\nb", "c") == ("a\nb\nc\n", "line added")
    assert ensure_line("a\nb\n", "c", insertafter="^a") == ("a\nc\nb\n", "line added")
    assert ensure_line("a\nb\n", "c", insertbefore="^b") == ("a\nc\nb\n", "line added")
    assert ensure_line("a\nb\n", "c", insertbefore="BOF") == ("c\na\nb\n", "line added")
    assert ensure_line("x=1\nx=2\n", "x=3", regexp="^x=") == ("x=1\nx=3\n", "line replaced")
    assert ensure_line("x=1\nx=2\n", "x=3", regexp="^x=", firstmatch=True) == ("x=3\nx=2\n", "line replaced")
    assert ensure_line("a\n", "v=\\1", regexp="^nomatch(.*)", backrefs=True) == ("a\n", "")
    assert ensure_line("key: old\n", "key: \\1!", regexp="^key: (.*)$", backrefs=True)[0] == "key: old!\n"
    assert ensure_line("c\n", "c", regexp="^zzz") == ("c\n", "")
    assert remove_lines("a\nb\na\n", line="a") == ("b\n", "2 line(s) removed", 2)


def test_blockinfile_rules() -> None:
    text, msg = apply_block("a\n", "x\ny")
    assert (
        msg == "Block inserted"
        and text == "a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\ny\n# END ANSIBLE MANAGED BLOCK\n"
    )
    replaced, msg = apply_block(text, "z")
    assert (
        msg == "Block inserted"
        and replaced == "a\n# BEGIN ANSIBLE MANAGED BLOCK\nz\n# END ANSIBLE MANAGED BLOCK\n"
    )
    assert apply_block(replaced, "z") == (replaced, "")
    assert apply_block(replaced, "", present=True) == ("a\n", "Block removed")
    first, _ = apply_block("a\nb\n", "x", insertbefore="BOF", marker="// {mark}")
    assert first == "// BEGIN\nx\n// END\na\nb\n"



def test_blockinfile_as_ansible_core_edits() -> None:
    managed = "# BEGIN ANSIBLE MANAGED BLOCK\n{}# END ANSIBLE MANAGED BLOCK\n"
    # a CRLF block keeps its line endings, replacing the old block in place
    text, msg = apply_block("unix\n" + managed.format("dos\r\n") + "unix\n", "dos\r\ndos\r\n")
    assert (text, msg) == ("unix\n" + managed.format("dos\r\ndos\r\n") + "unix\n", "Block inserted")
    # a new block goes after the LAST matching line; an unmatched pattern means EOF
    assert apply_block("k\nx\nk\n", "b", insertafter="^k")[0] == "k\nx\nk\n" + managed.format("b\n")
    assert apply_block("k\nx\nk\nz\n", "b", insertbefore="^k")[0] == (
        "k\nx\n" + managed.format("b\n") + "k\nz\n")
    assert apply_block("a\n", "b", insertbefore="nomatch")[0] == "a\n" + managed.format("b\n")
    # (?m): the pattern reads the whole text, several lines at once
    assert apply_block("a\nb\nc\n", "x", insertafter="(?m)^a\nb$")[0] == (
        "a\nb\n" + managed.format("x\n") + "c\n")
    # prepend/append a blank line, not where one already is or at the file's ends
    assert apply_block("a\nc\n", "b", insertafter="^a", prepend_newline=True, append_newline=True)[0] == (
        "a\n\n" + managed.format("b\n") + "\nc\n")
    assert apply_block("", "b", prepend_newline=True, append_newline=True)[0] == managed.format("b\n")
    # a vertical tab is not a line end (bytes' splitlines, not str's)
    assert apply_block("a\x0bb\n", "x")[0] == "a\x0bb\n" + managed.format("x\n")


def test_copy_and_template_fail_on_their_source_before_touching_the_host(tmp_path) -> None:
    fake = FakeConnector()  # scripted with nothing: any command would raise UnscriptedCommand

    def broken_render(text: str, settings: object) -> str:
        raise ValueError("undefined variable 'port'")

    (tmp_path / "unit.j2").write_text("port={{ port }}\n")
    with pytest.raises(ValueError, match="port"):
        get_module("template").run(ctx(fake, render_template=broken_render),
                                   {"src": str(tmp_path / "unit.j2"), "dest": "/etc/unit"})
    gone = get_module("copy").run(ctx(fake), {"src": str(tmp_path / "gone"), "dest": "/etc/gone"})
    assert gone.failed and fake.commands == [] and fake.puts == []


def test_copy_reads_a_remote_source_after_the_destinations_probe() -> None:
    fake = FakeConnector()
    fake.on(r".", stdout="")  # the destination's probe: no such file; /srv/src is not there either
    result = get_module("copy").run(ctx(fake), {"src": "/srv/src", "dest": "/etc/x", "remote_src": True})
    assert result.failed and "unreadable" in result.msg
    assert len(fake.commands) == 1  # the probe came first: a destination already right costs no read


def test_plan_unit_sysv_script_enabled_by_its_start_links() -> None:
    generated = {"LoadState": "loaded", "ActiveState": "active", "UnitFileState": "generated"}
    off, on = {**generated, "SysVEnabled": "no"}, {**generated, "SysVEnabled": "yes"}
    assert plan_unit(off, state="started", enabled=True, masked=None) == ["enable"]
    assert plan_unit(on, state="started", enabled=True, masked=None) == []


def test_apt_with_an_empty_name_list_is_ok_and_runs_nothing() -> None:
    """ansible-core's apt: ``name: []`` counts as given and installs nothing (ok, unchanged)."""
    fake = FakeConnector()
    result = get_module("apt").run(ctx(fake), {"name": [], "state": "latest"})
    assert not result.failed and not result.changed
    assert fake.command_lines == []
    assert get_module("apt").run(ctx(FakeConnector()), {"state": "latest"}).failed


def test_apt_autoremove_alone_runs_apt_get_autoremove_and_reads_its_output() -> None:
    fake = FakeConnector().on(r"apt-get -y .* autoremove$", stdout="Reading package lists...\n0 upgraded\n")
    result = get_module("apt").run(ctx(fake), {"autoremove": True})
    assert not result.failed and not result.changed
    assert "autoremove" in fake.command_lines[-1]
    fake = FakeConnector().on(r"autoremove --simulate",
                              stdout="The following packages will be REMOVED:\n  libfoo1\n")
    result = get_module("apt").run(ctx(fake, check_mode=True), {"autoremove": True, "name": []})
    assert result.changed and fake.command_lines[-1].endswith("autoremove --simulate")


def test_command_reports_a_chdir_it_cannot_enter_as_ansible_core() -> None:
    from kprov.provision.modules.commands.command import CommandPlan
    plan = CommandPlan(shown=["echo"], line="echo", chdir=["cd /nope || exit 1"], chdir_path="/nope")
    script = plan.script("tok", check_mode=False)
    assert script.startswith("cd -P /nope 2>/dev/null || {") and "tok:chdir:2" in script
    assert plan.script("tok", check_mode=False, plain_chdir=True).startswith("cd /nope || exit 1")
    failed = plan.chdir_failed("tok:chdir:2\n", "tok")
    assert failed is not None and failed.failed
    assert failed.msg == ("Unable to change directory before execution: [Errno 2] No such file or "
                          "directory: '/nope'")
    assert plan.chdir_failed("hello\n", "tok") is None


def test_script_refuses_async_in_ansible_cores_words() -> None:
    from kprov.provision.modules.commands.script import MODULE as SCRIPT
    from kprov.provision.modules.registry import lookup

    refused = lookup("ansible.builtin.script").detach  # type: ignore[attr-defined]
    assert refused is not None
    result = refused(ModuleContext(connector=FakeConnector()), {"_raw_params": "/some/script.sh"})
    assert result.failed and result.msg == "This action (script) does not support async."
    assert SCRIPT.name == "script"


def test_assemble_matches_ansible_cores_own_checksums() -> None:
    # the fragments and sha1s of ansible-core's assemble target (tests/data/ansible-targets)
    import hashlib
    from pathlib import Path

    from kprov.provision.modules.files.assemble import assemble

    folder = Path(__file__).resolve().parents[2] / "data" / "ansible-targets" / "targets" / "assemble"
    folder = folder / "files"
    fragments = [(path.name, path.read_bytes()) for path in folder.iterdir() if path.is_file()]
    assert len(fragments) == 5

    def sha1(**kw: str) -> str:
        return hashlib.sha1(assemble(fragments + [("ßΩ.txt", "π\n".encode())], **kw)).hexdigest()

    assert hashlib.sha1(assemble(fragments)).hexdigest() == "048a1bd1951aa5ccc427eeb4ca19aee45e9c68b3"
    assert sha1() == "74152e9224f774191bc0bedf460d35de86ad90e6"
    assert sha1(regexp="^fragment[1-3]$") == "edfe2d7487ef8f5ebc0f1c4dc57ba7b70a7b8e2b"
    assert sha1(delimiter="#--- delimiter ---#") == "d986cefb82e34e4cf14d33a3cda132ff45aa2980"
