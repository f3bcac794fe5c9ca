"""The mysql feature play (tests/compat/lab_features/mysql: it needs a server, so it is not
among the local ones) on a lab host with MariaDB from
Debian's repository: kprov runs it, the server is put back as it was, ansible-playbook runs
it (community.mysql with PyMySQL on the host); both succeed, report the same changed count
and write the same results file. The host's MariaDB is stopped and removed afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.compat.twin import run_ansible, run_kprov

from .corpus_repo import corpus_repo

pytestmark = [pytest.mark.lab, pytest.mark.long]
PLAY = Path(__file__).resolve().parents[2] / "compat" / "lab_features" / "mysql" / "play.yml"
_INSTALL = ("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
            "mariadb-server mariadb-client python3-pymysql && systemctl start mariadb")
_RESET = ("mysql -e \"DROP DATABASE IF EXISTS appdb; DROP DATABASE IF EXISTS logs; "
          "DROP DATABASE IF EXISTS restored; DROP DATABASE IF EXISTS checkdb; "
          "DROP USER IF EXISTS 'app'@'localhost'; "
          "DROP USER IF EXISTS 'reader'@'10.0.0.%'\"")
_REMOVE = ("systemctl disable --now mariadb 2>/dev/null; DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "
           "mariadb-server mariadb-client python3-pymysql >/dev/null 2>&1; "
           "rm -rf /var/lib/mysql /root/mysql-out-*; true")


@pytest.fixture(scope="module")
def runs(lab_hosts, lab_inventory, tmp_path_factory: pytest.TempPathFactory):
    lab = lab_hosts(1)
    inventory = lab_inventory(1)
    tmp = tmp_path_factory.mktemp("mysql")
    try:
        with corpus_repo(lab, ["h1"]):
            rc, _, err = lab.ssh("h1", _INSTALL)
            assert rc == 0, err
        lab.ssh("h1", _RESET)
        kprov = run_kprov(inventory, PLAY, {"out": "/root/mysql-out-kprov"}, tmp / "logs")
        lab.ssh("h1", _RESET)
        os.environ.pop("ANSIBLE_ROLES_PATH", None)
        ansible = run_ansible(inventory, PLAY, {"out": "/root/mysql-out-ansible"}, tmp)
        files = {side: lab.ssh("h1", f"cat /root/mysql-out-{side}/results.txt")[1]
                 for side in ("kprov", "ansible")}
        yield kprov, ansible, files
    finally:
        lab.ssh("h1", _REMOVE)


def test_kprov_and_ansible_agree_on_mysql(runs) -> None:
    kprov, ansible, files = runs
    assert kprov.ok, kprov.output
    assert ansible.ok, ansible.output
    assert files["kprov"], "kprov's play wrote no results"
    assert files["kprov"] == files["ansible"]
    assert kprov.changed["h1"] == ansible.changed["h1"]
