"""Probe prefetch, for real through the local connector: a no-op play of file tasks reads the
host in one round trip, results are what item-by-item probes give, and an item that acts
makes the later items probe live (so they see its change)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from kprov.provision.connect.base import CommandResult
from kprov.provision.connect.local import LocalConnector
from kprov.provision.execute.probes.merged_probes import (
    merge_package_queries,
    merge_unit_queries,
    split_package_query,
    split_unit_query,
)
from kprov.provision.execute.probes.prefetch import (
    MAX_BATCH_BYTES,
    batch_script,
    parse_batch,
    split_batches,
)
from kprov.provision.modules.packages.apt import package_query

from .harness import run_fake, statuses


def _site(tmp_path: Path, dest: Path) -> str:
    return f"""
- hosts: all
  gather_facts: false
  tasks:
    - name: files
      copy: {{content: "{{{{ item }}}}\\n", dest: "{dest}/{{{{ item }}}}", mode: "0640"}}
      loop: [a, b, c, d]
      register: copies
    - name: dirs
      file: {{path: "{dest}/d-{{{{ item }}}}", state: directory}}
      loop: [x, y, x]
"""


def _commands(tmp_path: Path) -> list[str]:
    logs = sorted((tmp_path / "logs").glob("run-*.log"))
    return [line.split("\t")[6] for line in logs[-1].read_text().splitlines() if line.split("\t")[2] == "run"]


def test_noop_loop_probes_in_one_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    site = {"site.yml": _site(tmp_path, dest)}
    first, _ = run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert statuses(first, "h1") == [("files", "changed"), ("dirs", "changed")]
    assert sorted(p.name for p in dest.iterdir()) == ["a", "b", "c", "d", "d-x", "d-y"]
    shutil.rmtree(tmp_path / "logs")
    again, registered = run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert statuses(again, "h1") == [("files", "ok"), ("dirs", "ok")]
    assert [r["mode"] for r in registered["h1"]["copies"]["results"]] == ["0640"] * 4
    assert len(_commands(tmp_path)) == 1  # the whole play's probes in one batch


def test_an_item_that_acts_makes_later_items_probe_live(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    site = {"site.yml": _site(tmp_path, dest)}
    run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    (dest / "b").write_text("changed by hand\n")
    (dest / "d-x").rmdir()
    report, registered = run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert statuses(report, "h1") == [("files", "changed"), ("dirs", "changed")]
    assert [r["changed"] for r in registered["h1"]["copies"]["results"]] == [False, True, False, False]
    assert (dest / "b").read_text() == "b\n" and (dest / "d-x").is_dir()


def test_batch_frames_every_output_and_exit_code() -> None:
    commands = ["echo a", "echo b >&2; exit 3", "printf 'x\\ny'", "cat; echo in", "exit 0 # comment"]
    script = batch_script(commands, "TOK")
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    results = parse_batch(done.stdout, done.stderr, "TOK", 5)
    assert results is not None
    assert [(r.rc, r.stdout, r.stderr) for r in results] == [
        (0, "a\n", ""), (3, "", "b\n"), (0, "x\ny", ""), (0, "in\n", ""), (0, "", "")]
    assert parse_batch(done.stdout, done.stderr, "OTHER", 5) is None
    assert parse_batch(done.stdout, done.stderr, "TOK", 6) is None


def test_consecutive_file_tasks_probe_together_until_one_acts(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    site = {"site.yml": f"""
- hosts: all
  gather_facts: false
  tasks:
    - {{name: one, copy: {{content: "1\\n", dest: "{dest}/one"}}}}
    - {{name: two, copy: {{content: "2\\n", dest: "{dest}/two"}}, register: two}}
    - {{name: dir, file: {{path: "{dest}/sub", state: directory}}}}
    - {{name: uses two, stat: {{path: "{dest}/two"}}, when: two is changed}}
    - {{name: after, stat: {{path: "{dest}/sub"}}, register: after}}
"""}
    first, _ = run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert [s for _, s in statuses(first, "h1")] == ["changed", "changed", "changed", "ok", "ok"]
    shutil.rmtree(tmp_path / "logs")
    (dest / "two").write_text("by hand\n")
    again, registered = run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert [s for _, s in statuses(again, "h1")] == ["ok", "changed", "ok", "ok", "ok"]
    assert (dest / "two").read_text() == "2\n" and registered["h1"]["after"]["stat"]["isdir"]
    # every probe together at the play's start; two's write; then uses-two and after (read
    # together again: two's change dropped what was read before it)
    commands = _commands(tmp_path)
    assert commands[0].startswith("_kprov_f()") and len(commands) <= 5


def test_sysctl_items_sharing_a_file_each_see_the_last_write(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "90-test.conf"
    site = {"site.yml": f"""
- hosts: all
  gather_facts: false
  tasks:
    - name: params
      sysctl: {{name: "{{{{ item.key }}}}", value: "{{{{ item.value }}}}", sysctl_file: "{conf}",
               sysctl_set: false, reload: false}}
      loop: [{{key: net.ipv4.ip_forward, value: "1"}}, {{key: net.ipv4.conf.all.forwarding, value: "1"}}]
"""}
    first, _ = run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert statuses(first, "h1") == [("params", "changed")]
    assert conf.read_text() == "net.ipv4.ip_forward=1\nnet.ipv4.conf.all.forwarding=1\n"
    again, _ = run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert statuses(again, "h1") == [("params", "ok")]


def test_unit_queries_run_as_one_and_split_back_exactly() -> None:
    commands, shows = merge_unit_queries(["stat /x", "systemctl show a", "systemctl show b@1.service"])
    assert commands == ["stat /x", "systemctl show a b@1.service"]
    assert shows == ["systemctl show a", "systemctl show b@1.service"]
    # systemctl prints each unit's properties in order, an empty line between them
    one, two = "Id=a.service\nActiveState=active\n", "Id=b@1.service\nActiveState=inactive\n"
    split = split_unit_query(CommandResult(0, one + "\n" + two, ""), shows)
    assert split is not None and [r.stdout for r in split] == [one, two]
    assert split_unit_query(CommandResult(0, one, ""), shows) is None  # a unit missing
    assert split_unit_query(CommandResult(1, one + "\n" + two, ""), shows) is None
    assert merge_unit_queries(["systemctl show a", "systemctl --user show b"])[1] == []


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg")
def test_package_probes_run_as_one_and_split_back_as_each_alone() -> None:
    """On this machine's real dpkg database: each apt probe's part of the merged probe is
    byte for byte what it prints alone (names shared, unknown and out of order included)."""
    probes = [package_query(["dpkg", "coreutils"]), "stat /x",
              package_query(["bash", "no-such-package-kprov", "coreutils"]), package_query(["latest-x'y"])]
    commands, merged = merge_package_queries(probes)
    assert merged == probes[:3:2]  # a name needing quotes is not merged
    union = package_query(["dpkg", "coreutils", "bash", "no-such-package-kprov"])
    assert commands == ["stat /x", probes[3], union]

    def run(command: str) -> CommandResult:
        done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False)
        return CommandResult(done.returncode, done.stdout, done.stderr)

    split = split_package_query(run(commands[-1]), merged)
    assert split == [run(probe) for probe in merged]
    assert "PKG:coreutils\t" in split[0].stdout and "PKG:bash\t" in split[1].stdout
    assert split_package_query(CommandResult(0, "Package: x\n", ""), merged) is None  # not the probe's output
    assert merge_package_queries([probes[0], "stat /x"])[1] == []  # one alone is left as it is


def test_query_commands_and_met_waits_are_read_with_the_other_probes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A command declared a query (changed_when: false + check_mode: false) and a wait whose
    condition holds cost no round trip of their own in a no-op run; a plain command, a wait
    with a delay, and anything after a task that changed the host still run live."""
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "there").write_text("x\n")
    site = {"site.yml": f"""
- hosts: all
  gather_facts: false
  tasks:
    - {{name: file, copy: {{content: "1\\n", dest: "{dest}/one"}}}}
    - name: query
      shell: "cat {dest}/there; echo q"
      register: query
      changed_when: false
      check_mode: false
    - {{name: wait, wait_for: {{path: "{dest}/there", timeout: 5}}}}
    - {{name: other, stat: {{path: "{dest}/one"}}}}
    - {{name: plain, command: "true", changed_when: false}}
"""}
    run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    shutil.rmtree(tmp_path / "logs")
    again, registered = run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert [s for _, s in statuses(again, "h1")] == ["ok"] * 5
    assert registered["h1"]["query"]["stdout"] == "x\nq" and registered["h1"]["query"]["rc"] == 0
    commands = _commands(tmp_path)
    assert len(commands) == 2  # the batch (file, query, wait condition, stat), then `plain`
    assert commands[0].startswith("_kprov_f()") and f"cat {dest}/there" in commands[0]
    assert commands[1] == "true"
    # the wait's condition not met when read: it waits live (and here times out)
    (dest / "there").unlink()
    shutil.rmtree(tmp_path / "logs")
    site["site.yml"] = site["site.yml"].replace("timeout: 5", "timeout: 1").replace(
        f'shell: "cat {dest}/there; ', 'shell: "')
    failed, _ = run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert ("wait", "failed") in statuses(failed, "h1")
    assert any(c.startswith("start=$(date +%s%N); sleep 0; end=") for c in _commands(tmp_path))


def test_a_query_after_a_change_runs_live_and_sees_it(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    site = {"site.yml": f"""
- hosts: all
  gather_facts: false
  tasks:
    - {{name: write, copy: {{content: "{{{{ value }}}}\\n", dest: "{dest}/v"}}}}
    - name: read
      command: "cat {dest}/v"
      register: seen
      changed_when: false
      check_mode: false
"""}
    for value in ("1", "2"):
        site_now = {"site.yml": site["site.yml"].replace("{{ value }}", value)}
        report, registered = run_fake(tmp_path, monkeypatch, site_now, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
        assert statuses(report, "h1") == [("write", "changed"), ("read", "ok")]
        assert registered["h1"]["seen"]["stdout"] == value


def test_a_health_poll_takes_its_first_attempt_from_the_read_ahead_only_when_met(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A poll declared changeless (until + changed_when: false) is read ahead; when the read
    does not meet ``until`` the next attempt asks the host at once, without the delay (the
    read-ahead ran the command: it counts as the first attempt, as the host saw one run).
    (``retries: 1``: with 0 ansible-core makes one attempt and never looks at ``until``.)"""
    dest = tmp_path / "out"
    dest.mkdir()
    flag = dest / "healthy"
    site = {"site.yml": f"""
- hosts: all
  gather_facts: false
  tasks:
    - {{name: file, copy: {{content: "1\\n", dest: "{dest}/one"}}}}
    - name: poll
      shell: "test -e {flag} || {{ touch {flag}; exit 1; }}"
      register: health
      until: health.rc == 0
      retries: 1
      delay: 30
      changed_when: false
"""}
    run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert flag.exists()
    shutil.rmtree(tmp_path / "logs")
    again, registered = run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert statuses(again, "h1") == [("file", "ok"), ("poll", "ok")]
    assert registered["h1"]["health"]["attempts"] == 1
    assert len(_commands(tmp_path)) == 1  # read with the file's probe: no round trip of its own
    flag.unlink()  # unhealthy when read ahead: the read made it healthy, the live ask sees that
    shutil.rmtree(tmp_path / "logs")
    third, registered = run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert statuses(third, "h1") == [("file", "ok"), ("poll", "ok")]
    assert registered["h1"]["health"]["attempts"] == 2  # the read-ahead ran it: as Ansible's two runs
    assert len(_commands(tmp_path)) == 2


def test_probes_beyond_one_shell_argument_go_in_several_batches(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop over an offline bundle's ~165 .debs made one batch script over the 128 KiB the
    kernel allows one argument (exec failed with rc 126 and every item probed live)."""
    dest = tmp_path / ("out-" + "d" * 100)
    dest.mkdir()
    items = [f"libsomething-with-a-long-name-{'x' * 60}{i:03}_1.2.3-4+deb12u5_amd64.deb" for i in range(90)]
    site = {"site.yml": f"""
- hosts: all
  gather_facts: false
  tasks:
    - name: files
      copy: {{content: "{{{{ item }}}}\\n", dest: "{dest}/{{{{ item }}}}", mode: "0644"}}
      loop: {items}
"""}
    run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    shutil.rmtree(tmp_path / "logs")
    again, _ = run_fake(tmp_path, monkeypatch, site, ["h1"], {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert statuses(again, "h1") == [("files", "ok")]
    batches = _commands(tmp_path)
    assert 2 <= len(batches) <= 4, len(batches)  # a few round trips, not one per item
    assert all(len(shlex.quote(b)) <= MAX_BATCH_BYTES for b in batches)


def test_split_batches_keeps_order_and_stays_within_the_limit() -> None:
    commands = [f"stat -c %s /var/lib/file-{i:04}" for i in range(500)]
    batches = split_batches(commands, limit=4000)
    assert [c for b in batches for c in b] == commands
    assert len(batches) > 1
    assert all(len(shlex.quote(batch_script(b, "@@kprov-0123456789abcdef"))) <= 4000 for b in batches)
    assert split_batches(commands[:3]) == [commands[:3]]
