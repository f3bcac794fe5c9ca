"""Names and addresses of lab instances: unique per instance, within kernel limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.lab.errors import LabError
from kprov.lab.layout import MAX_HOSTS, LabLayout, host_number, lab_index_from_env


@pytest.mark.parametrize("index", range(10))
def test_every_instance_has_its_own_network_and_names(index: int) -> None:
    layout = LabLayout(index)
    assert layout.subnet == f"10.77.{index}.0/24"
    assert layout.gateway == f"10.77.{index}.1"
    assert layout.bridge == f"kprovbr{index}"
    assert layout.ip("h1") == f"10.77.{index}.11"
    assert layout.ip("h9") == f"10.77.{index}.19"
    assert layout.ip("h50") == f"10.77.{index}.60"
    assert layout.ip("h99") == f"10.77.{index}.109"
    assert layout.veth("h99") == f"kp{index}h99"
    assert layout.netns("h3") == f"kp{index}-h3"
    assert layout.veth("h3") == f"kp{index}h3"
    assert layout.cgroup("h3") == f"kprov-lab{index}-h3"
    assert layout.repo_url == f"http://10.77.{index}.1:8000"
    assert layout.state_dir == Path(f"/var/lib/kprov/lab/{index}")


def test_instances_never_share_a_kernel_object_name() -> None:
    names: list[str] = []
    for index in range(10):
        layout = LabLayout(index)
        names.append(layout.bridge)
        for host in layout.host_names(MAX_HOSTS):
            names += [layout.netns(host), layout.veth(host), layout.cgroup(host), layout.ip(host)]
    assert len(names) == len(set(names))
    assert max(len(n) for n in names) <= 15


def test_shared_parts_are_shared_and_base_can_be_moved() -> None:
    a, b = LabLayout(1), LabLayout(2, base_override=Path("/tmp/other-base"))
    assert a.key_path == b.key_path == Path("/var/lib/kprov/lab/id_lab")
    assert a.repo_dir == b.repo_dir
    assert a.base == Path("/var/lib/kprov/lab/base")
    assert b.base == Path("/tmp/other-base")


def test_etc_hosts_lists_every_host_of_the_instance() -> None:
    text = LabLayout(4).etc_hosts()
    for i in range(1, MAX_HOSTS + 1):
        assert f"10.77.4.{10 + i} h{i}\n" in text
    assert "10.77.0." not in text


@pytest.mark.parametrize("bad", ["h0", "h01", "h100", "host1", "H1", "", "h1 "])
def test_bad_host_names_are_refused_with_the_valid_range(bad: str) -> None:
    with pytest.raises(LabError, match="h1..h99"):
        host_number(bad)


def test_host_names_and_counts() -> None:
    assert LabLayout.host_names(3) == ["h1", "h2", "h3"]
    assert len(LabLayout.host_names(50)) == 50 and LabLayout.host_names(50)[-1] == "h50"
    for count in (0, MAX_HOSTS + 1):
        with pytest.raises(LabError, match="1..99 hosts"):
            LabLayout.host_names(count)


def test_instance_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KPROV_LAB", raising=False)
    assert lab_index_from_env() == 0
    monkeypatch.setenv("KPROV_LAB", "7")
    assert lab_index_from_env() == 7
    assert lab_index_from_env(3) == 3
    monkeypatch.setenv("KPROV_LAB", "x")
    with pytest.raises(LabError, match="KPROV_LAB='x'"):
        lab_index_from_env()
    with pytest.raises(LabError, match="out of range"):
        lab_index_from_env(10)


def test_existing_hosts_are_read_from_the_state_dir(tmp_path: Path) -> None:
    layout = LabLayout(2, root=tmp_path)
    assert layout.existing_hosts() == []
    for name in ("h3", "h1", "junk", "h10", "h100", "h05"):
        (layout.hosts_dir / name).mkdir(parents=True)
    assert layout.existing_hosts() == ["h1", "h3", "h10"]
