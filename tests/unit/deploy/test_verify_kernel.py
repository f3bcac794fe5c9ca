"""verify's kernel rows: modules, sysctls and swap on hosts with their own kernel only."""

from __future__ import annotations

from kprov.deploy.verify.expectations import expectations_for
from kprov.deploy.verify.kernel_checks import expected_kernel, kernel_script, parse_kernel_report

GOOD = """module overlay 1
module br_netfilter 1
sysctl net.ipv4.ip_forward 1
sysctl net.bridge.bridge-nf-call-iptables 1
sysctl vm.overcommit_memory 1
sysctl vm.panic_on_oom 0
sysctl kernel.panic 10
sysctl kernel.panic_on_oops 1
swap 0
"""


def _rows(text: str, host_vars: dict[str, object] | None = None) -> dict[str, tuple[bool, str]]:
    modules, sysctls, swap_off = expected_kernel(host_vars or {})
    return {c.name: (c.ok, c.detail) for c in parse_kernel_report("h1", text, modules, sysctls, swap_off)}


def test_a_node_with_everything_set_passes() -> None:
    rows = _rows(GOOD)
    assert all(ok for ok, _ in rows.values())
    assert "kernel module br_netfilter loaded" in rows and "swap off" in rows
    assert "sysctl vm.overcommit_memory = 1" in rows


def test_missing_module_wrong_sysctl_and_swap_fail() -> None:
    text = (GOOD.replace("module br_netfilter 1", "module br_netfilter 0")
            .replace("sysctl kernel.panic 10", "sysctl kernel.panic 0")
            .replace("bridge-nf-call-iptables 1", "bridge-nf-call-iptables")
            .replace("swap 0", "swap 1"))
    rows = _rows(text)
    assert rows["kernel module br_netfilter loaded"][0] is False
    assert rows["sysctl kernel.panic = 10"] == (False, "is 0")
    assert rows["sysctl net.bridge.bridge-nf-call-iptables = 1"] == (False, "is unset")
    assert rows["swap off"] == (False, "1 swap areas active")
    assert rows["kernel module overlay loaded"][0] is True


def test_a_container_host_is_one_passing_row() -> None:
    rows = _rows("container\n")
    assert list(rows) == ["kernel settings"] and rows["kernel settings"][0]


def test_inventory_overrides_what_is_expected() -> None:
    rows = _rows(GOOD, {"common_kernel_sysctls": {"vm.swappiness": 0}, "common_swap_off": False,
                        "common_kernel_modules": ["overlay"]})
    assert rows["sysctl vm.swappiness = 0"] == (False, "is unset")
    assert "sysctl kernel.panic = 10" not in rows and "swap off" not in rows
    assert "kernel module br_netfilter loaded" not in rows



def test_extra_modules_are_expected_beside_the_defaults() -> None:
    rows = _rows(GOOD, {"common_extra_kernel_modules": ["sctp", "overlay"]})
    assert rows["kernel module sctp loaded"] == (False, "")
    assert rows["kernel module overlay loaded"] == (True, "")
    assert list(rows).count("kernel module overlay loaded") == 1
    assert _rows(GOOD + "module sctp 1\n", {"common_extra_kernel_modules": ["sctp"]})[
        "kernel module sctp loaded"] == (True, "")

def test_script_asks_for_every_item_and_detects_containers_first() -> None:
    modules, sysctls, _ = expected_kernel({})
    script = kernel_script(modules, sysctls)
    assert script.splitlines()[0].startswith("if [ -r /run/systemd/container ]")
    for name in (*modules, *sysctls):
        assert name in script


def test_only_nodes_get_kernel_checks() -> None:
    groups = {"etcd": {"e1"}, "control_plane": {"c1"}, "workers": {"w1"}}
    exp = expectations_for(["e1", "c1", "w1"], lambda host, group: host in groups.get(group, set()))
    assert (exp["e1"].kernel, exp["c1"].kernel, exp["w1"].kernel) == (False, True, True)
