"""A role's package install on a host whose apt lists were just emptied, through the real CLI.

A cloud image or a minimal box empties /var/lib/apt/lists when it is built: the first apply
with such a host failed at `Install HAProxy` (`Unable to locate package haproxy`). The role
refreshes an index older than ``kprov_apt_cache_valid_time`` first, and a lists directory with
no ``*_Packages`` index counts as never updated, however new its mtime (``rm -rf`` just now:
ansible-core would keep that empty index as fresh, ansible/ansible#79206). The second apply
reads the index's age ahead and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kprov.lab import Lab
from tests.e2e.engine.labstate import Apply

pytestmark = pytest.mark.lab
PLAY = """- hosts: h1
  become: true
  gather_facts: false
  roles:
    - apiserver_lb
"""


def test_a_host_with_just_emptied_apt_lists_gets_the_index_and_converges(
    lab_hosts: Callable[[int], Lab], lab_inventory: Callable[[int], Path], tmp_path: Path, kprov_apply: Apply,
) -> None:
    lab = lab_hosts(1)
    inventory = lab_inventory(1)
    rc, _, err = lab.ssh("h1", "rm -rf /var/lib/apt/lists/* && ! apt-cache show haproxy >/dev/null 2>&1"
                               " && test $(( $(date +%s) - $(stat -c %Y /var/lib/apt/lists) )) -lt 60")
    assert rc == 0, err  # no index (apt knows no haproxy), and the lists directory's mtime is new
    playbook = tmp_path / "lb.yml"
    playbook.write_text(PLAY)
    rc, first = kprov_apply(inventory, playbook)
    failed = [f"{r['task']}: {r.get('msg')}" for r in first["results"] if r["status"] == "failed"]
    assert rc == 0 and first["ok"], failed
    statuses = {r["task"]: r["status"] for r in first["results"] if r["host"] == "h1"}
    assert statuses["apiserver_lb : Install HAProxy"] == "changed"
    assert lab.ssh("h1", "ls /var/lib/apt/lists | grep -c '_Packages$'")[1].strip() not in ("", "0")
    rc, second = kprov_apply(inventory, playbook)
    assert rc == 0 and second["stats"]["h1"]["changed"] == 0, [
        r["task"] for r in second["results"] if r["status"] == "changed"]
