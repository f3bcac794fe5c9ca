"""Fact parsing from the facts script's real output (captured on a Debian 12 machine), and
that gathering is one command."""

from __future__ import annotations

from pathlib import Path

from kprov.provision.connect.fake import FakeConnector
from kprov.provision.facts import FACTS_SCRIPT, gather_facts, parse_facts

CAPTURED = (Path(__file__).parent / "data" / "facts_debian12.txt").read_text()


def test_parse_captured_debian12_output() -> None:
    facts = parse_facts(CAPTURED)
    assert facts["distribution"] == "Debian"
    assert facts["os_family"] == "Debian"
    assert facts["distribution_release"] == "bookworm"
    assert facts["distribution_major_version"] == "12"
    # as ansible-core 2.18's setup reports them on a Debian 12 lab host
    assert (facts["distribution_file_path"], facts["distribution_file_variety"],
            facts["distribution_file_parsed"]) == ("/etc/os-release", "Debian", True)
    assert "_os_release" not in facts
    assert facts["distribution_version"].startswith("12.")
    assert facts["architecture"] == "x86_64"
    assert facts["default_ipv4"]["address"] == "192.0.2.2"
    assert facts["default_ipv4"]["interface"] == "eth0"
    assert facts["default_ipv4"]["gateway"] == "192.0.2.1"
    assert facts["all_ipv4_addresses"] == ["192.0.2.2"]
    assert facts["processor_vcpus"] == 2
    assert facts["memtotal_mb"] > 1000
    assert facts["swaptotal_mb"] == 0
    assert facts["python"]["version"]["major"] == 3
    assert facts["python_version"].startswith("3.")
    assert len(facts["machine_id"]) == 32
    assert facts["env"]["LANG"] == "C.UTF-8"
    assert facts["env"]["MULTI"] == "line one\nline two"
    assert facts["user_id"] == "root" and facts["user_uid"] == 0
    assert facts["processor_nproc"] == 2 and facts["processor_cores"] == 2
    assert facts["eth0"]["macaddress"] == facts["default_ipv4"]["macaddress"]
    assert facts["hostname"] and facts["fqdn"] and facts["nodename"]
    assert not any(key.startswith("_") for key in facts)


def test_no_default_route_falls_back_to_first_address() -> None:
    text = ("@@kprov:net\n1: lo    inet 127.0.0.1/8 scope host lo\n"
            "2: host0    inet 10.77.5.11/24 brd 10.77.5.255 scope global host0\n@@kprov:cpuinfo\n")
    facts = parse_facts(text)
    assert facts["default_ipv4"]["address"] == "10.77.5.11"
    assert facts["default_ipv4"]["broadcast"] == "10.77.5.255"


def test_ipv6_addresses_and_the_default_ipv6_route() -> None:
    text = ("@@kprov:net\n"
            "1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever\n"
            "2: eth0: <BROADCAST,UP,LOWER_UP> mtu 1400 qdisc fq state UP mode DEFAULT group default qlen 1000"
            "\\    link/ether 02:fc:00:00:00:01 brd ff:ff:ff:ff:ff:ff\n"
            "2: eth0    inet6 fd00::2/64 scope global nodad \\       valid_lft forever\n"
            "2: eth0    inet6 fe80::fc:ff:fe00:1/64 scope link \\       valid_lft forever\n"
            "3: tun0    inet6 fd01::1 peer fd01::2/128 scope global \\       valid_lft forever\n"
            "2404:6800:400a:800::1012 from :: via fd00::1 dev eth0 src fd00::2 metric 1024 pref medium\n"
            "@@kprov:cpuinfo\n")
    facts = parse_facts(text)
    assert facts["all_ipv6_addresses"] == ["fd00::2", "fe80::fc:ff:fe00:1", "fd01::1"]  # not ::1
    assert facts["default_ipv6"] == {"gateway": "fd00::1", "interface": "eth0", "address": "fd00::2",
                                     "prefix": "64", "scope": "global", "macaddress": "02:fc:00:00:00:01",
                                     "mtu": 1400, "type": "ether"}
    assert facts["eth0"]["ipv6"][1] == {"address": "fe80::fc:ff:fe00:1", "prefix": "64", "scope": "link"}
    # without an IPv6 route (ip prints nothing for it): an empty default, as Ansible
    no_route = parse_facts(text.replace("2404:6800:400a:800::1012 from", "unrelated"))
    assert no_route["default_ipv6"] == {} and not any(k.startswith("_") for k in no_route)


def test_gather_is_one_round_trip() -> None:
    fake = FakeConnector().on("@@kprov:", stdout=CAPTURED)
    facts = gather_facts(fake)
    assert len(fake.commands) == 1
    assert fake.commands[0].cmd == FACTS_SCRIPT
    assert facts["service_mgr"]


def test_systemd_fact_as_ansible_core_gathers_it() -> None:
    from kprov.provision.facts import parsers

    facts: dict[str, object] = {}
    parsers.service_mgr("systemd\nrun-systemd-system\nsystemd 252 (252.30-1~deb12u2)\n"
                        "+PAM +AUDIT +SELINUX -APPARMOR\n", facts)
    assert facts["service_mgr"] == "systemd"
    assert facts["systemd"] == {"features": "+PAM +AUDIT +SELINUX -APPARMOR", "version": 252}
    other: dict[str, object] = {}
    parsers.service_mgr("init\n", other)
    assert "systemd" not in other
