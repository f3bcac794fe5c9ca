"""Loop devices for lab hosts: the device nodes each host gets, and which filesystems are a
host's own (a loop device backed by one of them is detached when the host stops)."""

from __future__ import annotations

import os

from kprov.lab import loopdev


def test_every_host_gets_loop_control_and_the_loop_devices() -> None:
    lines = loopdev.tmpfiles_lines(3).splitlines()
    assert "c /dev/loop-control 0600 root root - 10:237" in lines
    assert [line for line in lines if line.startswith("b ")] == [
        "b /dev/loop0 0660 root disk - 7:0", "b /dev/loop1 0660 root disk - 7:1",
        "b /dev/loop2 0660 root disk - 7:2"]
    assert f"ExecStart=/usr/bin/systemd-tmpfiles --create /{loopdev.TMPFILES_PATH}" in loopdev.DEVICES_UNIT


def test_a_hosts_own_filesystems_are_those_the_machine_does_not_mount() -> None:
    machine = ("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
               "30 22 0:54 / /var/lib/kprov/lab/8/hosts/h4/merged rw - overlay o rw\n")
    host = ("400 300 0:54 / / rw - overlay o rw\n401 400 0:97 / /tmp rw - tmpfs tmpfs rw\n"
            "402 400 8:1 /lab/8/hosts/h4/containerd /var/lib/containerd rw - ext4 /dev/sda1 rw\n")
    own = loopdev.only_theirs(host, machine, os.makedev(0, 54))
    assert own == {os.makedev(0, 97), os.makedev(0, 54)}  # its /tmp and its root; never the machine's disk
    assert loopdev.own_filesystems(2**22 + 1, os.makedev(0, 54)) == set()  # a host already gone
