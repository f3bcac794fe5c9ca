"""The facts kprov.provision.facts.system parses, from the raw text the facts script prints
(values as ansible-core's setup module reports them for the same files)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kprov.provision.facts import parse_facts, system
from kprov.provision.facts.gather import SECTIONS, facts_script


def test_date_time_is_the_hosts_local_time_with_its_zone_names() -> None:
    facts: dict = {}
    # 2024-07-01 10:00:00 UTC in Berlin (CEST, +0200)
    system.date_time("1719828000 123456789 +0200 CEST\nEurope/Berlin\n", facts)
    got = facts["date_time"]
    assert (got["date"], got["time"], got["hour"]) == ("2024-07-01", "12:00:00", "12")
    assert got["iso8601"] == "2024-07-01T10:00:00Z" and got["iso8601_micro"] == "2024-07-01T10:00:00.123456Z"
    assert got["iso8601_basic"] == "20240701T120000123456" and got["iso8601_basic_short"] == "20240701T120000"
    assert (got["tz"], got["tz_dst"], got["tz_offset"]) == ("CEST", "CEST", "+0200")
    assert (got["weekday"], got["weekday_number"], got["weeknumber"]) == ("Monday", "1", "27")


def test_a_zone_without_daylight_saving_names_its_standard_time_twice() -> None:
    facts: dict = {}
    system.date_time("1719828000 0 +0000 UTC\nEtc/UTC\n", facts)
    assert (facts["date_time"]["tz"], facts["date_time"]["tz_dst"]) == ("UTC", "UTC")


def test_cmdline_keeps_the_last_value_and_proc_cmdline_every_value() -> None:
    facts: dict = {}
    system.cmdline('BOOT_IMAGE=/vmlinuz ro console=tty0 console=ttyS0 quiet\n', facts)
    assert facts["cmdline"] == {"BOOT_IMAGE": "/vmlinuz", "ro": True, "console": "ttyS0", "quiet": True}
    assert facts["proc_cmdline"]["console"] == ["tty0", "ttyS0"]


def test_dns_reads_nameservers_search_domain_and_options() -> None:
    facts: dict = {}
    system.dns("# c\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch a.example b.example\n"
               "domain a.example\noptions ndots:5 rotate\n", facts)
    assert facts["dns"] == {"nameservers": ["10.0.0.2", "10.0.0.3"], "search": ["a.example", "b.example"],
                            "domain": "a.example", "options": {"ndots": "5", "rotate": True}}


def test_lsb_from_the_file_or_as_lsb_release_prints_it() -> None:
    facts: dict = {}
    system.lsb('DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\n'
               'DISTRIB_DESCRIPTION="Ubuntu 22.04.3 LTS"\n', facts)
    assert facts["lsb"] == {"id": "Ubuntu", "release": "22.04", "codename": "jammy",
                            "description": "Ubuntu 22.04.3 LTS", "major_release": "22"}
    derived = {"distribution": "Debian", "distribution_release": "bookworm",
               "_os_release": {"VERSION_ID": "12", "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"}}
    system.lsb(system.LSB_RELEASE_MARK, derived)
    assert derived["lsb"]["release"] == "12" and derived["lsb"]["description"].startswith("Debian")
    without: dict = {"_os_release": {"VERSION_ID": "12"}}
    system.lsb("", without)  # no file and no lsb_release: empty, as Ansible
    assert without["lsb"] == {}


def test_dmi_fills_na_and_names_the_chassis() -> None:
    facts: dict = {}
    system.dmi("sys_vendor=QEMU\nproduct_name=Standard PC\nchassis_type=17\nproduct_serial=NA\n", facts)
    assert (facts["system_vendor"], facts["product_name"], facts["form_factor"]) == (
        "QEMU", "Standard PC", "Main Server Chassis")
    assert facts["bios_vendor"] == "NA" and "_chassis_type" not in facts


def test_local_facts_are_json_or_ini_else_ansibles_error_texts_by_file_name() -> None:
    facts: dict = {}
    mark = system.FACTS_D_MARK
    d = "/etc/ansible/facts.d"
    system.local_facts(f'{mark}read:0:{d}/app.fact\n{{"port": 80}}\n'
                       f"{mark}read:0:{d}/site.fact\n[general]\nname = web\n"
                       f"{mark}read:0:{d}/raw.fact\nnot json, not ini\n"
                       f"{mark}read:0:{d}/bad.fact\n[s]\nv = a % b\n"
                       f"{mark}exec:0:{d}/ok.fact\n{{\"ran\": true}}\n"
                       f"{mark}exec:2:{d}/fails.fact\noops\n"
                       f"{mark}stat:0:{d}/dead.fact\n", facts)
    local = facts["ansible_local"]
    assert (local["app"], local["site"], local["ok"]) == ({"port": 80}, {"general": {"name": "web"}},
                                                         {"ran": True})
    assert local["raw"] == f"error loading facts as JSON or ini - please check content: {d}/raw.fact"
    assert local["bad"].startswith(f"error loading facts as ini - please check content: {d}/bad.fact (")
    assert local["fails"] == f"Failure executing fact script ({d}/fails.fact), rc: 2, err: oops"
    assert local["dead"].startswith(f"Could not stat fact ({d}/dead.fact): ")


def test_the_facts_d_script_runs_reads_and_reports_files_of_the_fact_path(tmp_path: Path) -> None:
    """The section's shell on this machine: fact files of every kind, in a path given by setup."""
    (tmp_path / "pref.fact").write_text("[general]\nbar=loaded\n")
    for name, body in (("good", "echo '{\"script_ran\": true}'"), ("bad", "echo no >&2; exit 3")):
        (tmp_path / f"{name}.fact").write_text(f"#!/bin/sh\n{body}\n")
        (tmp_path / f"{name}.fact").chmod(0o755)
    (tmp_path / "dead.fact").symlink_to(tmp_path / "nowhere")
    script = facts_script(str(tmp_path))
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False).stdout
    local = parse_facts(out)["ansible_local"]
    assert local["pref"] == {"general": {"bar": "loaded"}} and local["good"] == {"script_ran": True}
    assert local["bad"] == f"Failure executing fact script ({tmp_path}/bad.fact), rc: 3, err: no"
    assert local["dead"].startswith("Could not stat fact")
    missing = subprocess.run(["sh", "-c", facts_script(str(tmp_path / "none"))], capture_output=True,
                             text=True, check=False).stdout
    assert parse_facts(missing)["ansible_local"] == {}


def test_the_whole_script_output_yields_memory_ids_and_userspace() -> None:
    outputs = {
        "uname": "Linux web1 6.1.0 #1 SMP x86_64",
        "meminfo": "MemTotal: 2048000 kB\nMemFree: 1024000 kB\nBuffers: 102400 kB\nCached: 204800 kB\n"
                   "SwapTotal: 0 kB\nSwapFree: 0 kB\nSwapCached: 0 kB",
        "user": "uid=1000(deploy) gid=1000(deploy) groups=1000(deploy)\n/home/deploy\n/bin/bash",
        "passwd": "root:x:0:0:root:/root:/bin/bash\ndeploy:x:1000:1000:Deploy User,,,:/home/deploy:/bin/bash",
        "security": "0",
    }
    text = "\n".join(f"@@kprov:{name}\n{outputs.get(name, '')}" for name, _, _ in SECTIONS)
    facts = parse_facts(text)
    assert facts["memory_mb"]["real"] == {"total": 2000, "free": 1000, "used": 1000}
    assert facts["memory_mb"]["nocache"] == {"free": 1300, "used": 700}
    ids = (facts["real_user_id"], facts["effective_group_id"], facts["user_gecos"])
    assert ids == (1000, 1000, "Deploy User,,,")
    assert (facts["userspace_architecture"], facts["userspace_bits"]) == ("x86_64", "64")
    assert facts["apparmor"] == {"status": "disabled"} and facts["fips"] is False
    assert not any(key.startswith("_") for key in facts)
