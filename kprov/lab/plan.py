"""What ``lab up`` must do, decided from what is observed: a pure function, unit-tested.

``observe`` (in kprov.lab.lab) turns the machine into a LabObservation; ``plan_up`` turns
that into an ordered list of steps; running the steps and observing again gives an empty
plan, which is what makes ``up`` idempotent. Hosts beyond the requested count are left as
they are.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kprov.lab.layout import LabLayout

__all__ = ["HostObservation", "LabObservation", "Step", "StepKind", "plan_up", "space_needed"]

HOST_SIZE_BYTES = 64 * 2**20


class StepKind(enum.Enum):
    CLIENT_KEY = "create the shared SSH key"
    BUILD_BASE = "build the base image (mmdebstrap)"
    FILL_BUNDLE = "download packages into the local repository"
    BRIDGE = "create the bridge"
    REPO_SERVER = "start the package server"
    CREATE_DISK = "create the host's disk"
    MOUNT_DISK = "mount the host's disk"
    NETWORK = "create the host's netns and veth"
    BOOT = "boot the host"


@dataclass(frozen=True)
class Step:
    kind: StepKind
    host: str | None = None

    def __str__(self) -> str:
        return f"{self.host}: {self.kind.value}" if self.host else self.kind.value


@dataclass(frozen=True)
class HostObservation:
    name: str
    has_disk: bool
    mounted: bool
    has_network: bool
    running: bool


@dataclass(frozen=True)
class LabObservation:
    key_exists: bool
    base_ready: bool
    bundle_current: bool
    bridge_exists: bool
    repo_server_alive: bool
    hosts: tuple[HostObservation, ...]

    def host(self, name: str) -> HostObservation:
        for host in self.hosts:
            if host.name == name:
                return host
        return HostObservation(name, has_disk=False, mounted=False, has_network=False, running=False)


def plan_up(observed: LabObservation, count: int) -> list[Step]:
    steps: list[Step] = []
    if not observed.key_exists:
        steps.append(Step(StepKind.CLIENT_KEY))
    if not observed.base_ready:
        steps.append(Step(StepKind.BUILD_BASE))
    if not observed.bundle_current:
        steps.append(Step(StepKind.FILL_BUNDLE))
    if not observed.bridge_exists:
        steps.append(Step(StepKind.BRIDGE))
    if not observed.repo_server_alive:
        steps.append(Step(StepKind.REPO_SERVER))
    for name in LabLayout.host_names(count):
        host = observed.host(name)
        if host.running:
            continue
        if not host.has_disk:
            steps.append(Step(StepKind.CREATE_DISK, name))
        if not host.mounted:
            steps.append(Step(StepKind.MOUNT_DISK, name))
        if not host.has_network:
            steps.append(Step(StepKind.NETWORK, name))
        steps.append(Step(StepKind.BOOT, name))
    return steps


def space_needed(steps: list[Step], base_bytes: int, bundle_bytes: int) -> int:
    """Disk space the steps will consume (an estimate with room to spare)."""
    total = 0
    for step in steps:
        if step.kind is StepKind.BUILD_BASE:
            total += base_bytes
        elif step.kind is StepKind.FILL_BUNDLE:
            total += bundle_bytes
        elif step.kind is StepKind.CREATE_DISK:
            total += HOST_SIZE_BYTES
    return total
