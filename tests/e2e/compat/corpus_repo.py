"""The compat corpus's Debian packages for lab hosts, which have no route to a mirror.

The corpus roles install packages the lab bundle does not carry (nginx, redis, ...). They
are downloaded once from Debian's mirror into a flat repository beside the lab's own
(kprov.bundle.aptrepo, resolved against the base image's dpkg status, under a file lock as
all instances share it), served on the instance's bridge address on its own port, and named
in a sources.list.d entry on each host. Nothing of this is part of what the roles do.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kprov.bundle.aptrepo import AptSources, apt_source_line, fill_repo
from kprov.lab import Lab
from kprov.lab.base import DEBIAN_MIRROR, DEBIAN_SUITE
from kprov.lab.system import file_lock

__all__ = ["CORPUS_PACKAGES", "WIDE_PACKAGES", "WIDE_PORT", "corpus_repo"]

CORPUS_PACKAGES = (
    "ntp", "memcached", "git", "redis-server", "nginx", "haproxy", "postfix", "apache2",
    "python3-passlib", "fail2ban", "unattended-upgrades", "python3-systemd", "cron", "logrotate",
    "libpam-pwquality", "sudo", "openssh-server", "auditd", "python3-pymysql", "munin-node",
    "subversion", "libapache2-mod-svn", "samba", "samba-common", "mariadb-server", "mariadb-client",
)
# tests/compat/corpus/wide.yml's packages, in a repository of their own (the two corpora run in
# different stages; one shared list would refill the other's repository each time)
WIDE_PACKAGES = (
    "python3-apt", "aptitude", "bash-completion", "athena-jot", "htop", "vim", "nano",
    "openssh-client", "tzdata", "sudo", "mlocate", "plocate", "ca-certificates", "rsyslog",
    "logcheck", "haveged", "snmpd", "snmp", "tinyproxy", "dnsmasq", "fail2ban",
    "python3-systemd", "memcached", "squid", "xinetd", "openssh-server", "exim4",
    "nfs-kernel-server", "nfs-common", "rpcbind", "keepalived", "procps",
    "locales", "ufw", "iproute2", "cron",
    "logrotate", "libpam-passwdqc", "libpam-modules", "kmod", "auditd", "lm-sensors", "dnsutils",
    "at", "sysstat", "vsftpd", "chrony", "unattended-upgrades", "python3-pycurl", "tang",
    "git", "locales-all", "gnupg2", "tftpd-hpa", "psmisc", "tuned", "python3-configobj",
    "cockpit-system", "cockpit-ws",
)
_PORT = 8100
WIDE_PORT = 8101
_SOURCE = "/etc/apt/sources.list.d/kprov-compat.list"


@contextmanager
def corpus_repo(lab: Lab, hosts: list[str], packages: tuple[str, ...] = CORPUS_PACKAGES,
                name: str = "compat-repo", port: int = _PORT) -> Iterator[str]:
    """Fill (if needed) and serve the corpus repository ``name`` holding ``packages``; point
    ``hosts`` at it. Yields its URL. Each repository has a port of its own: apt keeps a
    repository's lists by URL, so two repositories served at one URL in turn would leave a
    host reading the other's package lists."""
    layout = lab.layout
    repo = layout.repo_dir.with_name(name)
    with file_lock(repo.with_name(repo.name + ".lock")):
        fill_repo(repo, packages, status=layout.base / "var/lib/dpkg/status",
                  sources=AptSources(suite=DEBIAN_SUITE, mirror=DEBIAN_MIRROR))
    url = f"http://{layout.gateway}:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "kprov.lab.reposerver", "--bind", layout.gateway, "--port", str(port),
         "--directory", str(repo)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait(url + "/Release")
        line = apt_source_line(url)
        for host in hosts:
            rc, _, err = lab.ssh(host, f"echo '{line.strip()}' > {_SOURCE} && apt-get update -q")
            assert rc == 0, f"{host}: apt-get update with the corpus repository failed: {err}"
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def repo_path(lab: Lab) -> Path:
    return lab.layout.repo_dir.with_name("compat-repo")
