"""The plan of `lab up`: only what is missing, nothing once everything is there."""

from __future__ import annotations

from kprov.lab.plan import HostObservation, LabObservation, Step, StepKind, plan_up, space_needed


def _observed(hosts: tuple[HostObservation, ...] = (), ready: bool = True) -> LabObservation:
    return LabObservation(key_exists=ready, base_ready=ready, bundle_current=ready, bridge_exists=ready,
                          repo_server_alive=ready, hosts=hosts)


def _running(name: str) -> HostObservation:
    return HostObservation(name, has_disk=True, mounted=True, has_network=True, running=True)


def test_cold_machine_gets_every_step_in_order() -> None:
    steps = plan_up(_observed(ready=False), 2)
    assert [s.kind for s in steps[:5]] == [StepKind.CLIENT_KEY, StepKind.BUILD_BASE, StepKind.FILL_BUNDLE,
                                          StepKind.BRIDGE, StepKind.REPO_SERVER]
    per_host = [StepKind.CREATE_DISK, StepKind.MOUNT_DISK, StepKind.NETWORK, StepKind.BOOT]
    assert steps[5:] == [Step(k, "h1") for k in per_host] + [Step(k, "h2") for k in per_host]


def test_everything_running_means_nothing_to_do() -> None:
    hosts = tuple(_running(f"h{i}") for i in range(1, 6))
    assert plan_up(_observed(hosts), 5) == []


def test_stopped_host_after_down_is_remounted_rewired_and_booted_but_keeps_its_disk() -> None:
    stopped = HostObservation("h2", has_disk=True, mounted=False, has_network=False, running=False)
    steps = plan_up(_observed((_running("h1"), stopped)), 2)
    assert steps == [Step(StepKind.MOUNT_DISK, "h2"), Step(StepKind.NETWORK, "h2"), Step(StepKind.BOOT, "h2")]


def test_powered_off_host_only_boots() -> None:
    off = HostObservation("h1", has_disk=True, mounted=True, has_network=True, running=False)
    assert plan_up(_observed((off,)), 1) == [Step(StepKind.BOOT, "h1")]


def test_hosts_beyond_the_count_are_left_alone() -> None:
    hosts = tuple(_running(f"h{i}") for i in range(1, 4))
    assert plan_up(_observed(hosts), 2) == []
    more = plan_up(_observed(hosts), 4)
    assert {s.host for s in more} == {"h4"}


def test_missing_shared_parts_are_planned_even_when_hosts_run() -> None:
    observed = LabObservation(key_exists=True, base_ready=True, bundle_current=False, bridge_exists=True,
                              repo_server_alive=False, hosts=(_running("h1"),))
    assert plan_up(observed, 1) == [Step(StepKind.FILL_BUNDLE), Step(StepKind.REPO_SERVER)]


def test_space_needed_counts_base_bundle_and_new_disks() -> None:
    steps = plan_up(_observed(ready=False), 3)
    needed = space_needed(steps, base_bytes=1000, bundle_bytes=100)
    assert needed == 1000 + 100 + 3 * 64 * 2**20
    assert space_needed([Step(StepKind.BOOT, "h1")], 1000, 100) == 0


def test_steps_describe_themselves() -> None:
    assert str(Step(StepKind.BOOT, "h3")) == "h3: boot the host"
    assert "mmdebstrap" in str(Step(StepKind.BUILD_BASE))
