"""``Lab``: one lab instance, the Python API behind ``kprov lab`` (and e2e fixtures).

Each operation observes the machine, then acts on the difference, under the instance's
lock, so ``up`` twice changes nothing and two processes never work one instance at once.
A host is "running" while its supervisor lives; its state comes from its own systemd.

Hosts boot in a sliding window (``BOOT_WINDOW`` at once, the next one as soon as one is
running): a host's boot is its systemd starting some 40 units, about a CPU-second, and 50 at
once on a 2-core machine made each take minutes and SSH handshakes time out; one at a time
made 50 hosts take 50 boots end to end. The waits (SSH, ``is-system-running``, the package
lists) run in the same window, so hosts that are already up are checked in parallel too.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kprov.lab import cgroups, disk, loopdev, network
from kprov.lab.base import BASE_SIZE_BYTES, base_ready, build_base
from kprov.lab.bundle import BUNDLE_SIZE_BYTES, LAB_PACKAGES, bundle_current, fill_bundle
from kprov.lab.errors import LabError
from kprov.lab.inventory import inventory_yaml, write_inventory_file
from kprov.lab.keys import ensure_client_key
from kprov.lab.layout import DEFAULT_ROOT, MAX_HOSTS, LabLayout, host_number, lab_index_from_env
from kprov.lab.plan import HostObservation, LabObservation, Step, StepKind, plan_up, space_needed
from kprov.lab.remote import run_ssh, ssh_argv, wait_ssh
from kprov.lab.services import ensure_repo_server, launch_supervisor, stop_repo_server
from kprov.lab.system import (
    ensure_free_space,
    ensure_tools,
    file_lock,
    mount_points,
    raise_sysctl,
    read_pid,
    require_root,
    run,
    wait_pid_gone,
)

__all__ = ["HostStatus", "Lab"]

Progress = Callable[[str], None]
BOOT_TIMEOUT_S = 180.0
BOOT_WINDOW = 8  # hosts booting at once (see the module docstring)
# Every host's systemd (and later containerd, kubelet) holds inotify instances, all counted
# against the machine's root user: the default 128 runs out with ~15 hosts (units then fail
# with "Failed to add watch"), so the lab raises the machine's limits before booting a host.
MACHINE_SYSCTL_FLOORS = {"fs.inotify.max_user_instances": 8192, "fs.inotify.max_user_watches": 524288}
STOP_TIMEOUT_S = 60.0


def _quiet(_: str) -> None:
    return


@dataclass(frozen=True)
class HostStatus:
    name: str
    ip: str
    state: str  # running | starting | degraded | ... (systemd's word) | stopped
    supervisor_pid: int | None
    leader_pid: int | None


class Lab:
    """Lab instance ``index`` (default: env KPROV_LAB, else 0)."""

    def __init__(self, index: int | None = None, root: Path = DEFAULT_ROOT, base: Path | None = None,
                 packages: Sequence[str] = LAB_PACKAGES) -> None:
        self.layout = LabLayout(lab_index_from_env(index), Path(root), base)
        self.packages = tuple(packages)

    @property
    def index(self) -> int:
        return self.layout.index

    @property
    def key_path(self) -> Path:
        return self.layout.key_path

    def ip(self, host: str) -> str:
        return self.layout.ip(host)

    def hosts(self) -> list[str]:
        """Hosts that exist (have a disk) in this instance."""
        return self.layout.existing_hosts()

    # --- observing and planning -------------------------------------------------------
    def _host_running(self, host: str) -> bool:
        return read_pid(self.layout.supervisor_pidfile(host)) is not None

    def observe(self, count: int = MAX_HOSTS) -> LabObservation:
        layout = self.layout
        hosts = tuple(
            HostObservation(
                name=h,
                has_disk=disk.disk_exists(layout, h),
                mounted=disk.disk_mounted(layout, h),
                has_network=network.host_network_exists(layout, h),
                running=self._host_running(h),
            )
            for h in layout.host_names(count)
        )
        return LabObservation(
            key_exists=layout.key_path.exists(),
            base_ready=base_ready(layout.base),
            bundle_current=bundle_current(layout.repo_dir, self.packages),
            bridge_exists=network.bridge_exists(layout),
            repo_server_alive=read_pid(layout.repo_server_pidfile) is not None,
            hosts=hosts,
        )

    def plan(self, count: int = 5) -> list[Step]:
        return plan_up(self.observe(count), count)

    # --- up / start / stop ------------------------------------------------------------
    @property
    def dual_stack(self) -> bool:
        """Whether this instance's network carries IPv6 too (``up(dual_stack=True)`` once)."""
        return self.layout.dual_stack_marker.exists()

    def up(self, count: int = 5, progress: Progress = _quiet, timeout: float = BOOT_TIMEOUT_S,
           dual_stack: bool = False) -> list[Step]:
        """Bring hosts h1..h<count> up and wait until each runs; returns the steps taken.
        ``dual_stack``: the network gets the instance's IPv6 prefix too, from now on."""
        require_root("kprov lab up")
        with file_lock(self.layout.instance_lock):
            if dual_stack:
                self.layout.state_dir.mkdir(parents=True, exist_ok=True)
                self.layout.dual_stack_marker.touch()
            steps = self.plan(count)
            if steps:
                ensure_tools()
                needed = space_needed(steps, BASE_SIZE_BYTES, BUNDLE_SIZE_BYTES)
                ensure_free_space(self.layout.root, needed)
            boots = [step.host for step in steps if step.kind is StepKind.BOOT and step.host]
            for step in steps:
                if step.kind is not StepKind.BOOT:
                    progress(str(step))
                    self._execute(step)
            if self.dual_stack:
                network.ensure_ipv6(self.layout, self.layout.host_names(count))
            self._boot_and_wait(self.layout.host_names(count), set(boots), timeout, progress)
        return steps

    def _boot_and_wait(self, hosts: list[str], boots: set[str], timeout: float, progress: Progress) -> None:
        """Boot ``boots`` and wait until every one of ``hosts`` runs, ``BOOT_WINDOW`` at a time."""

        def one(host: str) -> None:
            if host in boots:
                progress(f"boot {host}")
                self._boot(host)
            self.wait_running([host], timeout, progress)

        with ThreadPoolExecutor(max_workers=BOOT_WINDOW, thread_name_prefix="kprov-lab-boot") as pool:
            futures = [pool.submit(one, host) for host in hosts]
            errors = [f.exception() for f in futures]
        failed = [e for e in errors if e is not None]
        if failed:
            raise failed[0]

    def _execute(self, step: Step) -> None:
        layout, host = self.layout, step.host or ""
        match step.kind:
            case StepKind.CLIENT_KEY:
                ensure_client_key(layout.key_path)
            case StepKind.BUILD_BASE:
                build_base(layout.base)
            case StepKind.FILL_BUNDLE:
                fill_bundle(layout.repo_dir, layout.base, self.packages)
            case StepKind.BRIDGE:
                network.ensure_bridge(layout)
            case StepKind.REPO_SERVER:
                ensure_repo_server(layout)
            case StepKind.CREATE_DISK:
                disk.create_disk(layout, host)
            case StepKind.MOUNT_DISK:
                disk.mount_disk(layout, host)
            case StepKind.NETWORK:
                network.ensure_host_network(layout, host)
            case StepKind.BOOT:
                self._boot(host)

    def _boot(self, host: str) -> None:
        layout = self.layout
        # a host that crashed may have left processes behind: never boot a disk twice
        cgroups.kill_all(cgroups.find_host_cgroups(layout.cgroup(host)))
        for name, minimum in MACHINE_SYSCTL_FLOORS.items():
            raise_sysctl(name, minimum)
        disk.write_instance_files(layout, host)
        network.set_host_link(layout, host, up=True)
        launch_supervisor(layout, host)

    def wait_running(self, hosts: Sequence[str], timeout: float = BOOT_TIMEOUT_S,
                     progress: Progress = _quiet) -> None:
        """Wait until each host accepts SSH and its systemd reports `running`."""
        deadline = time.monotonic() + timeout
        for host in hosts:
            ip = self.ip(host)
            alive = functools.partial(self._host_running, host)
            if not wait_ssh(ip, self.key_path, max(1.0, deadline - time.monotonic()), alive):
                log = self.layout.console_log(host)
                tail = "\n  ".join(log.read_text(errors="replace").splitlines()[-12:]) if log.exists() else ""
                why = "did not accept SSH" if alive() else "powered off while booting"
                raise LabError(f"{host} ({ip}) {why} (waited up to {timeout:.0f} s); end of {log}:\n  {tail}")
            remaining = max(5.0, deadline - time.monotonic())
            command = f"timeout {remaining:.0f} systemctl is-system-running --wait"
            rc, out, _ = run_ssh(ip, self.key_path, command, timeout=remaining + 5)
            state = out.strip()
            if state != "running":
                _, failed, _ = run_ssh(ip, self.key_path, "systemctl --failed --no-legend --plain")
                raise LabError(f"{host} ({ip}) reports `{state or rc}`, not `running`. Failed units:\n"
                               f"{failed.strip() or '(none)'}")
            self._prime_apt_lists(host)
            progress(f"{host}: running at {ip}")

    def _prime_apt_lists(self, host: str) -> None:
        """A new host gets the bundle's package lists, so `apt-get install` works at once."""
        command = "ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || apt-get update -qq"
        rc, _, err = run_ssh(self.ip(host), self.key_path, command)
        if rc != 0:
            raise LabError(f"{host}: `apt-get update` against {self.layout.repo_url} failed: {err.strip()}")

    def start(self, host: str, timeout: float = BOOT_TIMEOUT_S) -> None:
        """Power a stopped host on again and wait until it runs."""
        require_root("kprov lab start")
        layout = self.layout
        with file_lock(layout.instance_lock):
            if not disk.disk_exists(layout, host):
                raise LabError(f"{host} does not exist in lab {self.index}: create it with "
                               f"`kprov lab up --hosts {host[1:]}`")
            if not self._host_running(host):
                network.ensure_bridge(layout)
                ensure_repo_server(layout)
                disk.mount_disk(layout, host)
                network.ensure_host_network(layout, host)
                if self.dual_stack:
                    network.ensure_ipv6(layout, [host])
                self._boot(host)
            self.wait_running([host], timeout)

    def stop(self, host: str, timeout: float = STOP_TIMEOUT_S) -> None:
        """Power a host off (orderly: SIGTERM to its supervisor), keeping its disk."""
        require_root("kprov lab stop")
        with file_lock(self.layout.instance_lock):
            self._stop(host, timeout)

    def _own_filesystems(self, host: str) -> set[int]:
        """The filesystems only ``host`` has (while it runs): see :mod:`kprov.lab.loopdev`."""
        leader = read_pid(self.layout.leader_pidfile(host))
        if leader is None or read_pid(self.layout.supervisor_pidfile(host)) is None:
            return set()
        if not disk.disk_mounted(self.layout, host):
            return set()
        return loopdev.own_filesystems(leader, os.stat(self.layout.merged(host)).st_dev)

    def _stop(self, host: str, timeout: float = STOP_TIMEOUT_S, own: set[int] | None = None) -> None:
        """Power ``host`` off; ``own``: its filesystems, when read before it was signalled."""
        pidfile = self.layout.supervisor_pidfile(host)
        pid = read_pid(pidfile)
        if own is None:
            own = self._own_filesystems(host)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            if not wait_pid_gone(pid, timeout):
                os.kill(pid, signal.SIGKILL)
        # whatever survived (a killed supervisor's nspawn, a stuck host) goes now
        cgroups.kill_all(cgroups.find_host_cgroups(self.layout.cgroup(host)))
        if pid is not None:
            wait_pid_gone(pid, 5)
        pidfile.unlink(missing_ok=True)
        self.layout.leader_pidfile(host).unlink(missing_ok=True)
        network.set_host_link(self.layout, host, up=False)
        loopdev.detach_backed_by(own)  # the loop devices it attached go with it, as at power-off

    # --- down / wipe ------------------------------------------------------------------
    def down(self) -> None:
        """Stop every host and take the instance's network down; disks are kept."""
        require_root("kprov lab down")
        with file_lock(self.layout.instance_lock):
            self._down()

    def _down(self) -> None:
        layout = self.layout
        # the hosts with a disk (a host is never booted without one), and h1..h9 as before the
        # range grew (a state dir removed by hand must not leave their links behind)
        hosts = sorted({*layout.existing_hosts(), *layout.host_names(9)}, key=host_number)
        owns = {host: self._own_filesystems(host) for host in hosts}  # (read while they run)
        for host in hosts:  # power all off at once, then wait for each
            pid = read_pid(layout.supervisor_pidfile(host))
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
        for host in hosts:
            self._stop(host, own=owns[host])
            if layout.host_dir(host).exists():
                disk.unmount_disk(layout, host)
            network.remove_host_network(layout, host)
            groups = cgroups.find_host_cgroups(layout.cgroup(host))
            left = cgroups.remove(groups)
            if left:
                raise LabError(f"could not remove cgroups of {host}: {', '.join(map(str, left))}")
        stop_repo_server(layout)
        network.remove_bridge(layout)

    def wipe(self) -> None:
        """Remove everything of this instance: hosts, disks, mounts, netns, links, cgroups."""
        require_root("kprov lab wipe")
        with file_lock(self.layout.instance_lock):
            self._down()
            state = str(self.layout.state_dir)
            for mount in sorted(mount_points(), key=len, reverse=True):
                if mount == state or mount.startswith(state + "/"):
                    run(["umount", "-l", mount], check=False)
            if self.layout.state_dir.exists():
                shutil.rmtree(self.layout.state_dir)

    # --- looking at hosts -------------------------------------------------------------
    def status(self) -> list[HostStatus]:
        require_root("kprov lab status")
        return [self.host_status(h) for h in self.hosts()]

    def host_status(self, host: str) -> HostStatus:
        layout = self.layout
        supervisor = read_pid(layout.supervisor_pidfile(host))
        leader = read_pid(layout.leader_pidfile(host)) if supervisor else None
        if supervisor is None:
            state = "stopped"
        elif leader is None:
            state = "starting"
        else:
            proc = run(["nsenter", "-t", str(leader), "-m", "-p", "systemctl", "is-system-running"],
                       check=False, timeout=10)
            state = proc.stdout.strip() or "starting"
        return HostStatus(host, layout.ip(host), state, supervisor, leader)

    def ssh(self, host: str, command: str, timeout: float = 300.0) -> tuple[int, str, str]:
        """Run ``command`` on ``host`` as root: (exit status, stdout, stderr)."""
        try:
            return run_ssh(self.ip(host), self.key_path, command, timeout)
        except OSError as exc:
            raise LabError(f"cannot reach {host} ({self.ip(host)}) over SSH: {exc}") from exc

    def ssh_argv(self, host: str, command: list[str] | None = None) -> list[str]:
        """The OpenSSH client command line for ``host`` (interactive when no command)."""
        if host not in self.hosts():
            existing = ", ".join(self.hosts()) or "none"
            raise LabError(f"{host} does not exist in lab {self.index} (its hosts: {existing})")
        return ssh_argv(self.ip(host), self.key_path, command)

    def inventory_text(self, count: int | None = None, vip: bool = False,
                       dual_stack: bool | None = None) -> str:
        """This instance's Ansible inventory (for ``count`` hosts, default: existing or 5;
        ``vip``: with ``apiserver_vip`` on the lab network)."""
        ds = self.dual_stack if dual_stack is None else dual_stack
        return inventory_yaml(self.layout, count or len(self.hosts()) or 5, vip, ds)

    def write_inventory(self, path: Path, count: int | None = None, vip: bool = False,
                        dual_stack: bool | None = None) -> Path:
        """Write this instance's Ansible inventory (for ``count`` hosts, default: existing or 5)."""
        ds = self.dual_stack if dual_stack is None else dual_stack
        return write_inventory_file(self.layout, count or len(self.hosts()) or 5, Path(path), vip, ds)
