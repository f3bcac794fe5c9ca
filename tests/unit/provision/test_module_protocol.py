"""Ansible's module protocol (modules.protocol): style, packing, answers, and whole runs of a
role's own modules over the local connection (the machine's real Python and shell)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kprov.provision.execute.task.report import diff_entries
from kprov.provision.modules.protocol.answer import parse_answer, to_result
from kprov.provision.modules.protocol.hostcache import is_missing
from kprov.provision.modules.protocol.locate import Locator, ModuleSource, core_package_dir
from kprov.provision.modules.protocol.pack import module_style, pack_module
from kprov.provision.modules.protocol.remote import module_command
from tests.unit.provision_app import provision_app

ROLES = Path(__file__).parents[2] / "data" / "protocol_roles"
needs_core = pytest.mark.skipif(core_package_dir() is None, reason="ansible-core is not installed")


@pytest.mark.parametrize(("text", "style"), [
    (b"from ansible.module_utils.basic import AnsibleModule\n", "new"),
    (b"import ansible.module_utils.basic\n", "new"),
    (b"from ..module_utils.x import y\n", "new"),
    (b"from ansible_collections.ns.coll.plugins.module_utils.z import q\n", "new"),
    (b"#<<INCLUDE_ANSIBLE_MODULE_COMMON>>\n", "new"),
    (b"json_arguments = '<<INCLUDE_ANSIBLE_MODULE_JSON_ARGS>>'\n", "jsonargs"),
    (b"#!/bin/sh\n# WANT_JSON\n", "want_json"),
    (b"#!/bin/sh\necho '{}'\n", "old"),
    (b"\x7fELF\x00\x00", "binary"),
])
def test_module_style_as_ansible_core_decides(text: bytes, style: str) -> None:
    assert module_style(text) == style


@needs_core
def test_pack_holds_the_module_utils_it_imports_and_their_parents() -> None:
    source = ModuleSource("kprov_marker", ROLES / "roles/py_module/library/kprov_marker.py",
                          "ansible.modules.kprov_marker")
    pack = pack_module(source, [])
    assert pack.style == "new"
    files = pack.files
    for name in ("ansible.module_utils.basic", "ansible.module_utils.common.text.converters",
                 "ansible.module_utils.common.parameters", "ansible.module_utils.six"):
        assert name in files, name
    # parents: ansible and ansible.modules are empty packages, module_utils' own __init__ is read
    assert files["ansible"] == (True, "") and files["ansible.modules"] == (True, "")
    assert files["ansible.module_utils.common"][0] is True
    assert "ansible.module_utils.basic" in files and not any(n.startswith("ansible.plugins") for n in files)


def test_locate_prefers_library_then_follows_collection_redirects(tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    (library / "ping.py").write_text("# mine\n")
    root = tmp_path / "ansible_collections"
    modules = root / "ns" / "coll" / "plugins" / "modules"
    modules.mkdir(parents=True)
    (modules / "real.py").write_text("#!/bin/sh\n")
    (root / "ns" / "coll" / "meta").mkdir()
    (root / "ns" / "coll" / "meta" / "runtime.yml").write_text(
        "plugin_routing:\n  modules:\n    old:\n      redirect: ns.coll.real\n")
    locator = Locator([library], [root])
    found = locator.find("ping")
    assert found is not None and found.path == library / "ping.py" and found.fqn == "ansible.modules.ping"
    if core_package_dir() is not None:  # ansible.builtin.ping is ansible-core's, never the library's
        core = locator.find("ansible.builtin.ping")
        assert core is not None and core.path != library / "ping.py"
    redirected = locator.find("ns.coll.old")
    assert redirected is not None and redirected.fqn == "ansible_collections.ns.coll.plugins.modules.real"
    assert locator.find("ns.coll.missing") is None


def test_answer_past_junk_and_the_failure_shape() -> None:
    data = parse_answer('MOTD line\n{"changed": true, "rc": 0, "stdout": "a\\nb"}\ntrailing\n', "", 0)
    result = to_result(data)
    assert result.changed and not result.failed
    assert result.data["stdout_lines"] == ["a", "b"]
    assert result.data["warnings"] == ["Module invocation had junk after the JSON data: trailing"]
    broken = parse_answer("oops", "Traceback (most recent call last):\nboom", 1)
    assert broken["failed"] is True and broken["rc"] == 1
    assert broken["msg"] == ("MODULE FAILURE: No start of json char found\n"
                             "See stdout/stderr for the exact error")
    assert broken["module_stdout"] == "oops" and broken["exception"].startswith("Traceback")
    assert to_result({"rc": 2, "_ansible_no_log": False}).failed  # rc without 'failed' fails
    assert "_ansible_no_log" not in to_result({"rc": 0, "_ansible_no_log": False}).data


def test_a_modules_own_diff_is_registered_as_it_came_and_still_reported() -> None:
    # known_hosts' target reads diff.diff.before_header: one dict, as ansible-core registers it
    own = {"before_header": "/k", "after_header": "/k", "before": "a\n", "after": "a\nb\n"}
    result = to_result({"changed": True, "diff": own})
    assert result.as_registered()["diff"] == own
    assert diff_entries(result.as_registered()) == [own]
    assert diff_entries({"diff": [own, "junk"]}) == [own]


def _apply(tmp_path: Path, *extra: str) -> dict:
    result = CliRunner().invoke(provision_app(), ["apply", "--json", "-i", str(tmp_path / "hosts.yml"),
                                         "-e", f"marker_dir={tmp_path / 'out'}", *extra,
                                         str(tmp_path / "site.yml")], catch_exceptions=False)
    doc = json.loads(result.stdout)
    assert result.exit_code == (0 if doc["ok"] else 2), result.output
    return doc


@needs_core
def test_roles_own_modules_converge_over_the_local_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROLES, tmp_path, dirs_exist_ok=True)
    (tmp_path / "out").mkdir()
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    here:\n      ansible_connection: local\n")
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    checked = _apply(tmp_path, "--check")
    assert checked["ok"] and not any((tmp_path / "out").iterdir())  # check mode acted on nothing
    first = _apply(tmp_path)
    assert first["ok"], first["results"]
    by_task = {r["task"]: r for r in first["results"]}
    py = by_task["py_module : a role's own Python module"]
    assert py["status"] == "changed"
    assert py["result"]["warnings"] == [f"marker {tmp_path}/out/py.txt rewritten"]
    assert "s3cr3t-t0ken" not in json.dumps(first)
    assert py["result"]["invocation"]["module_args"]["marker_code"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert by_task["shell_module : a role's own WANT_JSON shell module"]["result"]["msg"] == "created"
    assert (tmp_path / "out" / "py.txt").read_text() == "from here\n"
    assert (tmp_path / "out" / "sh.txt").read_text() == "shell\n"
    second = _apply(tmp_path)
    assert second["ok"] and second["stats"]["here"]["changed"] == 0


def _program_run(tmp_path: Path, text: str, args: dict) -> tuple[str, subprocess.CompletedProcess[bytes]]:
    module = tmp_path / "kprov_probe.py"
    module.write_text(text)
    pack = pack_module(ModuleSource("kprov_probe", module, "ansible.modules.kprov_probe"), [])
    command, program = module_command(pack, args, {"ansible_python_interpreter": sys.executable})
    assert command == f"{sys.executable} -"
    return program.decode(), subprocess.run([sys.executable, "-"], input=program, capture_output=True,
                                            timeout=60, check=False)


@needs_core
def test_a_new_style_program_is_built_once_per_pack_and_runs_each_tasks_arguments(tmp_path: Path) -> None:
    text = ("from ansible.module_utils.basic import AnsibleModule\n"
            "m = AnsibleModule(argument_spec=dict(word=dict(type='str')))\n"
            "m.exit_json(changed=False, said=m.params['word'])\n")
    module = tmp_path / "kprov_probe.py"
    module.write_text(text)
    pack = pack_module(ModuleSource("kprov_probe", module, "ansible.modules.kprov_probe"), [])
    _, first = module_command(pack, {"word": "one"}, {})
    head = pack.head
    assert head is not None and repr(head).encode() in first
    _, second = module_command(pack, {"word": "two"}, {})
    assert pack.head is head and repr(head).encode() in second and first != second  # the head is reused
    for word, program in (("one", first), ("two", second)):
        done = subprocess.run([sys.executable, "-"], input=program, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["said"] == word
    assert b"importlib.abc" not in head  # the hook needs none of importlib.abc's imports


@needs_core
def test_a_new_style_modules_traceback_names_its_own_file_and_line(tmp_path: Path) -> None:
    text = "import ansible.module_utils.basic\nraise ValueError('kprov boom')\n"
    _, done = _program_run(tmp_path, text, {})
    assert done.returncode == 1
    stderr = done.stderr.decode()
    assert "ValueError: kprov boom" in stderr
    assert '"<kprov>/ansible/modules/kprov_probe.py", line 2' in stderr  # module_stderr as ansible-core's


@needs_core
def test_the_host_keeps_the_head_and_a_task_then_sends_only_its_arguments(tmp_path: Path) -> None:
    module = tmp_path / "kprov_cached_probe.py"
    module.write_text("from ansible.module_utils.basic import AnsibleModule\n"
                      f"# {tmp_path}\n"  # a head of its own: no other test's cache file matches
                      "m = AnsibleModule(argument_spec=dict(word=dict(type='str')))\n"
                      "m.exit_json(changed=False, said=m.params['word'])\n")
    pack = pack_module(ModuleSource("kprov_cached_probe", module, "ansible.modules.kprov_cached_probe"), [])
    cache = Path(pwd.getpwuid(os.geteuid()).pw_dir) / ".ansible" / "tmp" / "kprov-payloads"

    def run(word: str, cached: bool) -> subprocess.CompletedProcess[str]:
        _, program = module_command(pack, {"word": word}, {}, cached=cached)
        return subprocess.run([sys.executable, "-"], input=program.decode(), capture_output=True, text=True,
                              timeout=60)

    try:
        missing = run("one", cached=True)
        assert is_missing(missing.returncode, missing.stdout) and missing.stderr == ""
        full = run("one", cached=False)
        assert json.loads(full.stdout)["said"] == "one"
        kept = cache / f"{pack.head_digest}.py"
        assert kept.read_bytes() == pack.head and kept.stat().st_mode & 0o777 == 0o600
        _, small = module_command(pack, {"word": "two"}, {}, cached=True)
        assert len(small) < len(pack.head or b"") // 10  # a task sends its arguments, not the head
        hit = run("two", cached=True)
        assert hit.returncode == 0 and json.loads(hit.stdout)["said"] == "two", hit.stderr
        kept.write_bytes((pack.head or b"") + b"\nraise SystemExit('altered')\n")
        altered = run("three", cached=True)  # a file whose digest is not its name never runs
        assert is_missing(altered.returncode, altered.stdout)
    finally:
        for stale in cache.glob(f"{pack.head_digest}.py*"):
            stale.unlink()
