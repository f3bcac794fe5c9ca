"""Per-host checks through testinfra: units, listening ports, certificates.

One testinfra host per inventory host (paramiko backend, the inventory's address, user,
port and key). Host-key checking follows the inventory (``kprov_host_key_checking``).
Hosts are checked in parallel, each over one SSH connection; a host that cannot be reached is
one failed row, and whether it answered at all is reported as soon as its connect ends, for
the other checks to leave it out (:mod:`reach_checks`). A control-plane host with
``apiserver_vip`` also reports its VIP state on that connection (:mod:`vip_checks` judges
the states of all of them together). Each kind
of check is one command per host (every unit's ``systemctl is-active`` / ``is-enabled``
exit codes, as testinfra's systemd service module reads them; one socket listing; every
certificate's bytes), not one per unit or file. Each TLS listener's served certificate is
compared with the file on disk (a TLS handshake from here: a process that did not restart
after a rotation serves the old serial), and recorded pending restarts fail the host. A unit
systemd restarted after a failure moments ago (:mod:`restart_checks`) and, on an etcd member,
segments lost on its peer links (:mod:`peer_link_checks`: sampled at the start and the end of
the host's rows) fail the host too.
"""

from __future__ import annotations

import base64
import datetime as dt
import shlex
import socket
import ssl
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import testinfra
from cryptography import x509

from kprov.deploy.verify.clock_checks import CLOCK_COMMAND, host_clock_check, not_yet_valid_detail
from kprov.deploy.verify.diagnose import describe_error, guard
from kprov.deploy.verify.disk_checks import etcd_disk_check
from kprov.deploy.verify.expectations import PORT_UNITS, HostExpectation
from kprov.deploy.verify.kernel_checks import expected_kernel, kernel_script, parse_kernel_report
from kprov.deploy.verify.peer_link_checks import (
    SAMPLE_S,
    parse_retransmits,
    peer_link_check,
    peer_links_command,
)
from kprov.deploy.verify.reach_checks import (
    Reachability,
    no_answer,
    ssh_target,
    unreachable_row,
    whole_seconds,
)
from kprov.deploy.verify.report import Check
from kprov.deploy.verify.restart_checks import RESTART_WINDOW_S, restart_check
from kprov.deploy.verify.vip_checks import VipState, host_vip_state
from kprov.provision.execute.pending import PENDING_DIR

__all__ = [
    "CERT_MIN_DAYS",
    "HostOutcome",
    "check_hosts",
    "kubelet_serving_by_csr",
    "served_certificate",
    "served_matches",
    "testinfra_host",
]

CERT_MIN_DAYS = 30


def _host_key_checking(host_vars: Mapping[str, Any]) -> bool:
    value = host_vars.get("kprov_host_key_checking", True)
    args = str(host_vars.get("ansible_ssh_common_args", ""))
    return str(value).lower() not in ("false", "no", "0") and "StrictHostKeyChecking=no" not in args


def testinfra_host(name: str, host_vars: Mapping[str, Any], ssh_config_dir: Path) -> Any:
    """A testinfra host for an inventory host (paramiko backend), its connect bounded by the
    host's connect timeout (``ansible_timeout``, as a run's)."""
    address = host_vars.get("ansible_host", name)
    user = host_vars.get("ansible_user", "root")
    port = host_vars.get("ansible_port", 22)
    kwargs: dict[str, Any] = {"timeout": whole_seconds(ssh_target(name, host_vars))}
    key = host_vars.get("ansible_ssh_private_key_file")
    if key:
        kwargs["ssh_identity_file"] = str(Path(str(key)).expanduser())
    if not _host_key_checking(host_vars):
        config = ssh_config_dir / "ssh_config"
        config.write_text("Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n")
        kwargs["ssh_config"] = str(config)
    return testinfra.get_host(f"paramiko://{user}@{address}:{port}", **kwargs)


def _listening_ports(host: Any) -> set[int]:
    ports: set[int] = set()
    for sock in host.socket.get_listening_sockets():
        if sock.startswith("tcp://"):
            ports.add(int(sock.rsplit(":", 1)[1]))
    return ports


def _unit_states(host: Any, units: list[str]) -> dict[str, tuple[bool, bool]]:
    """(active, enabled) per unit: the exit codes of systemctl is-active / is-enabled."""
    script = "; ".join(
        f"systemctl is-active --quiet {shlex.quote(u)}; a=$?; systemctl is-enabled --quiet {shlex.quote(u)};"
        f" printf '%s %s %s\\n' {shlex.quote(u)} $a $?" for u in units)
    found: dict[str, tuple[bool, bool]] = {}
    for line in host.run(script).stdout.splitlines():
        name, active, enabled = (line.rsplit(" ", 2) + ["", ""])[:3]
        found[name] = (active == "0", enabled == "0")
    return found


def _last_words(host: Any, units: list[str]) -> dict[str, str]:
    """Per unit, the last line of its latest run's journal that warns or fails, as ``; last
    log: ...``: a unit that runs but does not listen usually says why (a TLS handshake its
    clock refuses, etcd unreachable). etcd's refusals of a handshake without a client certificate
    are left out: verify's own reading of each listener's served certificate makes them."""
    def one(unit: str) -> str:
        quoted = shlex.quote(unit)
        run = "${i:+_SYSTEMD_INVOCATION_ID=$i}"  # the unit's latest run only
        return (f"printf '%s\\t' {quoted}; i=$(systemctl show -p InvocationID --value {quoted}); "
                f"journalctl -u {quoted} {run} -n 200 -o cat --no-pager 2>/dev/null"
                " | grep -iE 'warn|error|fail|refus|denied|invalid'"
                " | grep -v \"didn't provide a certificate\" | tail -n 1 | cut -c1-300; echo")

    found: dict[str, str] = {}
    for line in host.run("; ".join(one(u) for u in units) + "; true").stdout.splitlines():
        unit, _, text = line.partition("\t")
        if unit and text.strip():
            found[unit] = f"; last log: {text.strip()}"
    return found


def _cert_bytes(host: Any, paths: list[str]) -> dict[str, bytes]:
    """The contents of those of ``paths`` that are files (missing ones are absent)."""
    quoted = [shlex.quote(p) for p in paths]
    script = "; ".join(f"[ -f {q} ] && printf '%s ' {q} && base64 -w0 {q} && echo" for q in quoted)
    found: dict[str, bytes] = {}
    for line in host.run(script + "; true").stdout.splitlines():
        path, _, data = line.rpartition(" ")
        if path:
            found[path] = base64.b64decode(data)
    return found


def _cert_check(content: bytes | None, now: dt.datetime) -> tuple[bool, str]:
    if content is None:
        return False, "missing"
    cert = x509.load_pem_x509_certificate(content)
    if cert.not_valid_before_utc > now:
        return False, "not yet valid: " + not_yet_valid_detail(cert.not_valid_before_utc, now,
                                                               "this machine's clock")
    days = (cert.not_valid_after_utc - now).days
    if days < CERT_MIN_DAYS:
        return False, f"expires in {days} days (renew: kprov pki rotate)"
    return True, f"expires in {days} days"


@dataclass(frozen=True)
class HostOutcome:
    """One host's rows, and (a control-plane host with a VIP) its VIP state: None when it was
    not read, the host did not answer, or the answer was not a state."""

    rows: list[Check] = field(default_factory=list)
    vip_state: VipState | None = None


def _check_host(name: str, host_vars: Mapping[str, Any], exp: HostExpectation, vip: str,
                reach: Reachability) -> HostOutcome:
    checks: list[Check] = []
    with tempfile.TemporaryDirectory(prefix="kprov-verify-") as tmp:
        try:
            host = testinfra_host(name, host_vars, Path(tmp))
            host.run("true")
        except Exception as exc:  # noqa: BLE001 - an unreachable host is a failed row, not a crash
            silent = no_answer(exc, ssh_target(name, host_vars))
            reach.report(name, silent)
            return HostOutcome([unreachable_row(name, silent or str(exc) or type(exc).__name__)])
        reach.report(name, None)
        state = host_vip_state(vip, host_vars, lambda command: str(host.run(command).stdout)) \
            if vip and exp.vrrp else None
        checks += guard(name, "clock agrees with this machine's",
                        lambda: [host_clock_check(name, lambda: str(host.run(CLOCK_COMMAND).stdout))])
        checks += guard(name, "host checks completed", lambda: _host_rows(name, host, host_vars, exp))
    return HostOutcome(checks, state)


def _host_rows(name: str, host: Any, host_vars: Mapping[str, Any], exp: HostExpectation) -> list[Check]:
    """The rows of one reachable host (any failure of the host's commands is the caller's one row)."""
    checks: list[Check] = []
    etcd_member = 2379 in exp.ports
    if etcd_member:
        sampled = time.monotonic()
        before = parse_retransmits(host.run(peer_links_command()).stdout)
    states = _unit_states(host, exp.units) if exp.units else {}
    listening = _listening_ports(host) if exp.ports else set()
    suspects = [u for u in exp.units if not all(states.get(u, (False, False)))]
    suspects += [PORT_UNITS[p] for p in exp.ports if p not in listening and p in PORT_UNITS]
    words = _last_words(host, sorted(set(suspects))) if suspects else {}
    for unit in exp.units:
        running, enabled = states.get(unit, (False, False))
        detail = ", ".join(s for s, ok in (("active", running), ("enabled", enabled)) if not ok)
        checks.append(Check(name, f"unit {unit} active and enabled", running and enabled,
                            f"not {detail}{words.get(unit, '')}" if detail else ""))
    if exp.units:
        window = float(host_vars.get("kprov_verify_restart_window_s", RESTART_WINDOW_S))
        checks.append(restart_check(name, exp.units, lambda command: str(host.run(command).stdout), window))
    for port in exp.ports:
        owner = PORT_UNITS.get(port, "")
        checks.append(Check(name, f"port {port} listening", port in listening,
                            "" if port in listening else f"{owner or 'its unit'}{words.get(owner, '')}"))
    now = dt.datetime.now(dt.UTC)
    contents = _cert_bytes(host, exp.certs) if exp.certs else {}
    for path in exp.certs:
        ok, detail = _cert_check(contents.get(path), now)
        checks.append(Check(name, f"certificate {path}", ok, detail))
    address = str(host_vars.get("ansible_host", name))
    served = dict(exp.served)
    if KUBELET_PORT in served:  # a kubelet with a CSR-issued serving certificate serves that one
        rotated = kubelet_serving_by_csr(host_vars)
        certificate = _certificate_block(host, rotated)
        if certificate is not None:
            served[KUBELET_PORT] = rotated
            contents[rotated] = certificate
    for port, path in served.items():
        ok, detail = served_matches(address, port, contents.get(path))
        checks.append(Check(name, f"port {port} serves {path}", ok, detail))
    if exp.kernel:
        modules, sysctls, swap_off = expected_kernel(host_vars)
        report = host.run(kernel_script(modules, sysctls)).stdout
        checks += parse_kernel_report(name, report, modules, sysctls, swap_off)
    if etcd_member:  # a full disk under its data directory, and loss on its peer links, are named here
        checks.append(etcd_disk_check(name, host_vars, lambda command: host.run(command).stdout))
        time.sleep(max(0.0, SAMPLE_S - (time.monotonic() - sampled)))
        after = parse_retransmits(host.run(peer_links_command()).stdout)
        checks.append(peer_link_check(name, before, after, time.monotonic() - sampled))
    pending = _pending_handlers(host)
    checks.append(Check(name, "no restart pending", not pending,
                        f"recorded as due and not yet run: {'; '.join(pending)} (an interrupted or "
                        "failed run; rerun kprov apply)"
                        if pending else ""))
    return checks


KUBELET_PORT = 10250


def kubelet_serving_by_csr(host_vars: Mapping[str, Any]) -> str:
    """Where a kubelet keeps the serving certificate it got through a kubelet-serving CSR
    (``serverTLSBootstrap``): ``<root-dir>/pki/kubelet-server-current.pem``. When that file
    exists the kubelet serves it, not the operator-issued kubelet.crt."""
    root = str(host_vars.get("kubelet_root_dir") or "/var/lib/kprov/kubelet")
    return f"{root.rstrip('/')}/pki/kubelet-server-current.pem"


def _certificate_block(host: Any, path: str) -> bytes | None:
    """The first certificate of a PEM file that also holds its key (only the certificate
    leaves the host); None when the file is missing."""
    quoted = shlex.quote(path)
    out = host.run(f"[ -f {quoted} ] && sed -n '/-BEGIN CERTIFICATE-/,/-END CERTIFICATE-/p' {quoted}; true")
    text = out.stdout.strip()
    return (text + "\n").encode() if "BEGIN CERTIFICATE" in text else None


def _pending_handlers(host: Any) -> list[str]:
    """Handlers a run recorded as due and that never ran (kprov.provision.execute.pending)."""
    listing = host.run(f'for f in {PENDING_DIR}/*; do [ -f "$f" ] && cat "$f"; done; true')
    found = set()
    for line in listing.stdout.splitlines():
        name, _, why = line.partition("\t")
        if name.strip():
            found.add(f"{name.strip()} ({why.strip()})" if why.strip() else name.strip())
    return sorted(found)


def served_certificate(address: str, port: int, timeout: float = 5.0) -> x509.Certificate:
    """The certificate the listener at address:port presents in a TLS handshake (unverified:
    only its identity is compared; no client certificate is sent)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, port), timeout=timeout) as raw, \
            context.wrap_socket(raw, server_hostname=address) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("no certificate presented")
    return x509.load_der_x509_certificate(der)


def served_matches(address: str, port: int, on_disk: bytes | None) -> tuple[bool, str]:
    """Whether the component on ``port`` serves the certificate installed on disk (a stale
    process keeps serving the one it started with: restart it, kprov apply does)."""
    if on_disk is None:
        return False, "no certificate on disk"
    expected = x509.load_pem_x509_certificate(on_disk).serial_number
    try:
        served = served_certificate(address, port).serial_number
    except (OSError, ssl.SSLError, ValueError) as exc:
        return False, f"no TLS handshake: {exc}"
    if served != expected:
        return False, (f"serves serial {served:x}, the file has {expected:x} "
                       "(a stale process: rerun kprov apply)")
    return True, f"serial {served:x}"


def check_hosts(host_vars: Mapping[str, Mapping[str, Any]], expectations: Mapping[str, HostExpectation],
                vip: str = "", reach: Reachability | None = None) -> dict[str, HostOutcome]:
    """Every host's checks in parallel, in host order. Each host's connect outcome goes to
    ``reach`` as soon as it is known (every host reports, whatever fails); with ``vip`` the
    control-plane hosts read their VIP state too."""
    names = list(expectations)
    board = reach if reach is not None else Reachability(names)

    def one(n: str) -> HostOutcome:
        try:
            return _check_host(n, host_vars[n], expectations[n], vip, board)
        except Exception as exc:  # noqa: BLE001 - as guard: the host's one failed row
            return HostOutcome([Check(n, "host checks completed", False, describe_error(exc))])
        finally:
            board.report(n, None)  # (a no-op once reported; never left waiting)

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(names)))) as pool:
        return dict(zip(names, pool.map(one, names), strict=True))
