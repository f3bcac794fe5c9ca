"""Ansible's module protocol on a lab host, through the real CLI: a role's own new-style
Python module (packed with ansible-core's module_utils, run by the host's Python, with become)
and a role's WANT_JSON shell module converge (changed, then nothing to change), behind a
``meta: end_host`` whose ``when`` is false (it must not end the host); ``--json`` on a
playbook that does not load is one document."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kprov.lab import Lab
from tests.e2e.engine.labstate import REPO, Apply

pytestmark = pytest.mark.lab
ROLES = REPO / "tests" / "data" / "protocol_roles"
OUT = "/root/kprov-protocol-test"
PAYLOADS = "/root/.ansible/tmp/kprov-payloads"
MARKER = ("-e", f"marker_dir={OUT}")


def test_roles_own_modules_converge_on_a_lab_host(
    lab_hosts: Callable[[int], Lab], lab_inventory: Callable[[int], Path], tmp_path: Path, kprov_apply: Apply,
) -> None:
    lab = lab_hosts(1)
    inventory = lab_inventory(1)
    shutil.copytree(ROLES, tmp_path / "play")
    site = tmp_path / "play" / "site.yml"
    play = site.read_text().replace("  gather_facts: false\n", "  gather_facts: false\n  become: true\n")
    site.write_text(play)
    lab.ssh("h1", f"rm -rf {OUT}; mkdir -p {OUT}")
    # the host's cache of module heads: one unused for 8 days goes when this run sends its
    # module's head (a miss), one unused for 6 days stays (PRUNE_AFTER_S: 7 days)
    old, recent = "a" * 64 + ".py", "b" * 64 + ".py"
    lab.ssh("h1", f"mkdir -p -m 700 {PAYLOADS} && cd {PAYLOADS} && touch -d '8 days ago' {old}"
                  f" && touch -d '6 days ago' {recent}")
    rc, first = kprov_apply(inventory, site, *MARKER)
    assert rc == 0 and first["ok"], [r["result"] for r in first["results"] if r["status"] == "failed"]
    statuses = {r["task"]: r["status"] for r in first["results"] if r["host"] == "h1"}
    assert statuses["py_module : a role's own Python module"] == "changed"
    assert statuses["shell_module : a role's own WANT_JSON shell module"] == "changed"
    assert lab.ssh("h1", f"cat {OUT}/py.txt {OUT}/sh.txt")[1] == "from h1\nshell\n"
    cached = lab.ssh("h1", f"ls {PAYLOADS}")[1].split()
    assert old not in cached and recent in cached and len(cached) >= 2, cached  # + this run's head
    rc, second = kprov_apply(inventory, site, *MARKER)
    assert rc == 0 and second["stats"]["h1"]["changed"] == 0
    assert "s3cr3t-t0ken" not in json.dumps(first) + json.dumps(second)
    lab.ssh("h1", f"rm -rf {OUT}")


COLLECTIONS_PLAY = """- hosts: all
  gather_facts: false
  tasks:
    - name: ansible-core's tempfile, through the module protocol
      tempfile: {state: directory, suffix: kprov}
      register: made
    - name: a collection's lookup (routed short name and FQCN)
      copy:
        dest: "{{ made.path }}/tree.txt"
        content: "{{ lookup('community.general.filetree', 'roles/', wantlist=True) | map(attribute='path')
                     | select('match', '.*library/.+') | sort | join(',') }}"
"""


def test_ansible_core_module_and_collection_lookup_on_a_lab_host(
    lab_hosts: Callable[[int], Lab], lab_inventory: Callable[[int], Path], tmp_path: Path, kprov_apply: Apply,
) -> None:
    lab = lab_hosts(1)
    shutil.copytree(ROLES, tmp_path / "play")
    site = tmp_path / "play" / "collections.yml"
    site.write_text(COLLECTIONS_PLAY)
    rc, doc = kprov_apply(lab_inventory(1), site, *MARKER)
    assert rc == 0 and doc["ok"], [r["result"] for r in doc["results"] if r["status"] == "failed"]
    [made] = [r["result"] for r in doc["results"] if r["task"].startswith("ansible-core's tempfile")]
    assert made["state"] == "directory" and made["path"].endswith("kprov")
    assert lab.ssh("h1", f"cat {made['path']}/tree.txt")[1] == (
        "py_module/library/kprov_marker.py,shell_module/library/kprov_shmarker")
    lab.ssh("h1", f"rm -rf {made['path']}")


def test_json_on_a_broken_playbook_is_one_document(
    lab_inventory: Callable[[int], Path], tmp_path: Path, kprov_apply: Apply,
) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("- hosts: all\n  tasks:\n    - debug: msg=ok\n    - not_a_module_anywhere: {}\n")
    rc, doc = kprov_apply(lab_inventory(1), broken, *MARKER)
    assert rc == 1 and doc["ok"] is False
    assert doc["error"]["file"] == str(broken) and doc["error"]["line"] == 4
