"""--protect-kernel-defaults: a kernel setting other than the kubelet expects is named with
upstream's message; the expected ones pass."""

from __future__ import annotations

from kprov.cluster.kubelet.node.kernel_tunables import DESIRED, kernel_problems


def test_each_differing_setting_is_named() -> None:
    assert kernel_problems(lambda flag: DESIRED[flag]) == []
    lab = {**DESIRED, "vm/overcommit_memory": 0, "kernel/panic": 1}
    assert kernel_problems(lambda flag: lab[flag]) == [
        "invalid kernel flag: vm/overcommit_memory, expected value: 1, actual value: 0",
        "invalid kernel flag: kernel/panic, expected value: 10, actual value: 1",
    ]
