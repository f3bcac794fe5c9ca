"""A stopped `.ci/test` run cleans up its VM stage's libvirt domains, and only those.

`.ci/vm-cleanup`'s shell functions run here in bash with a fake `virsh` (VIRSH) that records
its calls and knows a few domains: the stage's Vagrant folders under a temporary basetemp, the
prefix read from the real vagrant/Vagrantfile. No VM is booted and libvirt is not touched.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
CLEANUP = REPO / ".ci" / "vm-cleanup"
VAGRANTFILE = REPO / "vagrant" / "Vagrantfile"
UUID = "6f1c2a4e-0b8d-4c3e-9a57-2d1e0c9b7a11"
FOREIGN = "0d9e8f7a-1111-4222-8333-944455556666"  # a recorded id whose domain is not kprov's

FAKE_VIRSH = """#!/bin/sh
echo "$*" >> "{calls}"
[ "$1" = -c ] && shift 2
if [ "$1" = domname ]; then
  case $2 in
    {uuid}) echo kprov-h1 ;;
    kprov-h2) echo kprov-h2 ;;
    kprov-h3) echo kprov-h3 ;;
    {foreign}) echo someone-elses-vm ;;
    *) echo "error: failed to get domain '$2'" >&2; exit 1 ;;
  esac
fi
exit 0
"""


def _machine(basetemp: Path, run: str, name: str, uuid: str | None = None) -> Path:
    folder = basetemp / run / ".vagrant" / "machines" / name / "libvirt"
    folder.mkdir(parents=True)
    if uuid:
        (folder / "id").write_text(uuid)
    return folder


def _bash(script: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    calls = tmp_path / "virsh.calls"
    fake = tmp_path / "virsh"
    fake.write_text(FAKE_VIRSH.format(calls=calls, uuid=UUID, foreign=FOREIGN))
    fake.chmod(0o755)
    done = subprocess.run(["bash", "-c", f"set -euo pipefail; . {CLEANUP}; {script}"], capture_output=True,
                          text=True, timeout=60, cwd=REPO, env={**os.environ, "VIRSH": str(fake)})
    return done, calls.read_text().splitlines() if calls.exists() else []


def _acted(calls: list[str]) -> list[tuple[str, str]]:
    """(verb, domain) of every destroy/undefine call."""
    out = []
    for line in calls:
        words = line.split()[2:]  # after "-c URI"
        if words and words[0] in ("destroy", "undefine"):
            out.append((words[0], words[1]))
    return out


def test_the_prefix_is_read_from_the_stages_vagrantfile(tmp_path: Path) -> None:
    done, _ = _bash(f"vm_domain_prefix {VAGRANTFILE}", tmp_path)
    assert done.stdout == "kprov-\n"
    (tmp_path / "Vagrantfile").write_text('Vagrant.configure("2") do |config|\nend\n')
    done, _ = _bash(f"vm_domain_prefix {tmp_path / 'Vagrantfile'}", tmp_path)
    assert done.returncode == 0 and done.stdout == ""


def test_exactly_the_domains_the_stage_made_are_destroyed_and_undefined(tmp_path: Path) -> None:
    basetemp = tmp_path / "basetemp"
    old = _machine(basetemp, "vagrant0", "h3")  # a machine of an earlier run
    past = time.time() - 3600
    os.utime(old, (past, past))
    since = tmp_path / "since"
    since.touch()
    os.utime(since, (past + 60, past + 60))
    _machine(basetemp, "vagrant1", "h1", UUID)  # its domain made: Vagrant recorded the UUID
    _machine(basetemp, "vagrant1", "h2")  # stopped before Vagrant recorded an id: by name
    _machine(basetemp, "vagrant1", "h4", FOREIGN)  # an id naming another domain: left alone
    _machine(basetemp, "vagrant1", "h5")  # never defined (domname fails): nothing to do
    done, calls = _bash(f"cleanup_vm_stage_domains {basetemp} {VAGRANTFILE} {since}", tmp_path)
    assert done.returncode == 0, done.stderr
    assert _acted(calls) == [("destroy", UUID), ("undefine", UUID), ("destroy", "kprov-h2"),
                             ("undefine", "kprov-h2")]
    assert "--remove-all-storage" in next(c for c in calls if " undefine " in c)
    assert "destroying and undefining its libvirt domain kprov-h1" in done.stdout
    assert not any("kprov-h3" in c or "someone" in c for c in calls if "domname" not in c)


def test_without_a_prefix_nothing_is_destroyed(tmp_path: Path) -> None:
    basetemp = tmp_path / "basetemp"
    since = tmp_path / "since"
    since.touch()
    os.utime(since, (time.time() - 60, time.time() - 60))
    _machine(basetemp, "vagrant0", "h1", UUID)
    missing = tmp_path / "missing-Vagrantfile"
    done, calls = _bash(f"cleanup_vm_stage_domains {basetemp} {missing} {since}", tmp_path)
    assert done.returncode == 0 and calls == [] and "no default_prefix" in done.stdout


def test_stop_vm_stage_kills_the_stage_then_cleans_up_its_domains(tmp_path: Path) -> None:
    """The EXIT trap's function: the stage's process tree is killed, its output printed, its
    domains destroyed, its log removed; a stage that already finished (VM_PID empty) is not
    cleaned up again."""
    basetemp = tmp_path / "basetemp"
    log = tmp_path / "vm.log"
    log.write_text("vm stage output so far\n")
    os.utime(log, (time.time() - 60, time.time() - 60))
    _machine(basetemp, "vagrant0", "h1", UUID)
    pids = tmp_path / "pids"
    script = (f"bash -c 'sleep 300 & echo $! > {pids}; wait' & VM_PID=$!; "
              f"while [ ! -s {pids} ]; do sleep 0.05; done; "
              f"VM_LOG={log} VM_BASETEMP={basetemp} VM_VAGRANTFILE={VAGRANTFILE}; stop_vm_stage; "
              f"p=$(cat {pids}); for i in $(seq 100); do "
              "s=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null || echo X); "
              "case $s in X|Z) break ;; esac; sleep 0.05; done; echo SLEEP-$s")
    done, calls = _bash(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "SLEEP-X" in done.stdout or "SLEEP-Z" in done.stdout  # gone (or dead, not yet reaped)
    assert "vm stage output so far" in done.stdout
    assert ("destroy", UUID) in _acted(calls) and not log.exists()
    log.write_text("")
    (tmp_path / "virsh.calls").unlink()
    done, calls = _bash(f"VM_PID=; VM_LOG={log} VM_BASETEMP={basetemp} VM_VAGRANTFILE={VAGRANTFILE}; "
                        "stop_vm_stage", tmp_path)
    assert done.returncode == 0 and calls == [] and not log.exists()


def test_the_test_command_sources_the_cleanup_and_traps_exit_with_it() -> None:
    text = (REPO / ".ci" / "test").read_text()
    assert ". .ci/vm-cleanup" in text and "trap stop_vm_stage EXIT" in text
    started = text.index('vm_stage" \\')  # where the stage is started in the background
    assert text.index(". .ci/vm-cleanup") < text.index("trap stop_vm_stage EXIT") < started
