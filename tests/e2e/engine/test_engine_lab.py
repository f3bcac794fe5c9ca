"""The engine on real lab hosts: the sample role set applied, re-applied (no change), checked
with a diff (no change on the host), the same end state as ansible-playbook; failure modes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kprov.provision.pipelines import run_playbook

from .labstate import SITE, digest, reset

pytestmark = pytest.mark.lab
HOSTS = ["h1", "h2", "h3"]
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def inventory(lab_inventory) -> Path:
    return lab_inventory(3)


@pytest.fixture(scope="module")
def applied(lab_hosts, inventory: Path, tmp_path_factory: pytest.TempPathFactory):
    os.environ.setdefault("KPROV_LOG_DIR", str(tmp_path_factory.mktemp("logs")))
    lab = lab_hosts(3)
    reset(lab, HOSTS)
    first = run_playbook(inventory, SITE)
    second = run_playbook(inventory, SITE)
    return lab, first, second


def _kprov(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kprov.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "400"},  # no line wrapping inside the messages checked
        stdin=subprocess.DEVNULL,
    )


def test_first_run_changes_then_second_run_changes_nothing(applied) -> None:
    _, first, second = applied
    assert first.ok, [r.msg for r in first.results if r.status == "failed"]
    assert all(first.stats[h].changed >= 15 for h in HOSTS)
    assert second.ok
    assert {h: second.stats[h].changed for h in HOSTS} == dict.fromkeys(HOSTS, 0)
    assert all(second.stats[h].ok >= 30 for h in HOSTS)


def test_check_mode_reports_template_change_with_diff_and_changes_nothing(applied, inventory: Path) -> None:
    lab, _, _ = applied
    before = digest(lab, HOSTS)
    report = run_playbook(inventory, SITE, check=True, diff=True, extra_vars={"base_motd": "a new motd"})
    assert report.ok
    limits = [r for r in report.results if r.task == "base : limits from a template"]
    assert {r.host for r in limits if r.status == "changed"} == set(HOSTS)
    assert all("a new motd" in str(d.get("after")) for r in limits for d in r.diff)
    assert digest(lab, HOSTS) == before


def test_same_state_as_ansible_playbook(applied, inventory: Path, tmp_path: Path) -> None:
    lab, _, _ = applied
    kprov_state = digest(lab, HOSTS)
    reset(lab, HOSTS)
    env = {
        **os.environ,
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_PIPELINING": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    playbook = Path(sys.executable).parent / "ansible-playbook"
    done = subprocess.run(
        [str(playbook), "-i", str(inventory), "--forks", "5", str(SITE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert digest(lab, HOSTS) == kprov_state


def _accepted_logins(lab, host: str) -> int:
    """sshd's accepted logins on ``host`` so far (this query's own included)."""
    rc, out, err = lab.ssh(host, "journalctl -q -u ssh --no-pager | grep -c 'Accepted publickey'")
    assert rc == 0, err
    return int(out.strip())


def test_a_run_reuses_the_session_the_last_run_kept_unless_persistence_is_off(
    applied, inventory: Path, tmp_path: Path
) -> None:
    lab, _, _ = applied
    book = tmp_path / "true.yml"
    book.write_text("- hosts: h1\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: \"true\"\n")
    done = _kprov("apply", "-i", str(inventory), str(book))  # a session is kept now
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    before = _accepted_logins(lab, "h1")
    for _ in range(2):
        done = _kprov("apply", "-i", str(inventory), str(book))
        assert done.returncode == 0, done.stdout[-2000:]
    assert _accepted_logins(lab, "h1") == before + 1  # only the count's own login: no run logged in
    fresh = subprocess.run(
        [sys.executable, "-m", "kprov.cli.main", "apply", "-i", str(inventory), str(book)],
        capture_output=True, text=True, timeout=300, cwd=REPO, stdin=subprocess.DEVNULL,
        env={**os.environ, "KPROV_CONTROL_PERSIST": "0"},
    )
    assert fresh.returncode == 0, fresh.stdout[-2000:]
    assert _accepted_logins(lab, "h1") == before + 3  # the run's own login, and the count's


def test_unreachable_host_is_reported_and_others_finish(lab_hosts, inventory: Path, tmp_path: Path) -> None:
    lab = lab_hosts(3)
    book = tmp_path / "base.yml"  # the base role only: it reads no other host's variables
    book.write_text("- hosts: all\n  vars: {sample_root: /etc/kprov-sample}\n  roles: [base]\n")
    lab.stop("h3")
    try:
        report = run_playbook(inventory, book, roles_path=[SITE.parent / "roles"])
    finally:
        lab.start("h3")
    assert report.stats["h3"].unreachable == 1
    assert not report.ok
    for host in ("h1", "h2"):
        assert report.stats[host].failed == 0 and report.stats[host].ok >= 15


def test_failing_task_stops_that_host_only(lab_hosts, inventory: Path, tmp_path: Path) -> None:
    lab_hosts(3)
    book = tmp_path / "fail.yml"
    book.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - {name: probe, command: 'test {{ inventory_hostname }} != h2'}\n"
        "    - {name: after, command: 'true'}\n"
    )
    report = run_playbook(inventory, book)
    after = {r.host for r in report.results if r.task == "after"}
    assert after == {"h1", "h3"}
    assert report.stats["h2"].failed == 1 and report.stats["h1"].failed == 0


def test_cli_errors_name_their_place(lab_hosts, inventory: Path, tmp_path: Path) -> None:
    lab_hosts(3)
    bad_yaml = tmp_path / "bad.yml"
    bad_yaml.write_text("- hosts: all\n  tasks:\n    - name: x\n      debug: {msg: [oops}\n")
    done = _kprov("apply", "-i", str(inventory), str(bad_yaml))
    assert done.returncode == 1 and f"{bad_yaml}:4" in done.stdout

    unknown = tmp_path / "unknown.yml"
    unknown.write_text("- hosts: all\n  tasks:\n    - name: x\n      lineinfle: {path: /tmp/x, line: y}\n")
    done = _kprov("apply", "-i", str(inventory), str(unknown))
    assert done.returncode == 1 and "'lineinfle'" in done.stdout and "'lineinfile'" in done.stdout

    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "u.j2").write_text("value={{ not_defined_anywhere }}\n")
    undefined = tmp_path / "undefined.yml"
    undefined.write_text(
        "- hosts: h1\n  gather_facts: false\n  tasks:\n"
        "    - {name: render it, template: {src: u.j2, dest: /tmp/kprov-u.txt}}\n"
    )
    done = _kprov("apply", "-i", str(inventory), str(undefined))
    flat = " ".join(done.stdout.split())
    assert done.returncode == 2
    assert "render it" in flat and "u.j2" in flat and "not_defined_anywhere" in flat
