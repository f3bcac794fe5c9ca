"""How to reach a host, read from its (Ansible-named) inventory variables. Pure data.

Variables read (first one set wins, Ansible's aliases included):
  ansible_connection                 local | ssh | paramiko | smart (default ssh; ``local``
                                     is also chosen for inventory name localhost/127.0.0.1
                                     without ansible_host)
  ansible_host, ansible_ssh_host     address (default: the inventory name)
  ansible_port, ansible_ssh_port     port (22)
  ansible_user, ansible_ssh_user     login user (default: the controller's user)
  ansible_password, ansible_ssh_pass login password
  ansible_ssh_private_key_file, ansible_private_key_file
  ansible_become_password, ansible_become_pass, ansible_sudo_pass
  ansible_become_method              only ``sudo`` is supported
  ansible_ssh_common_args, ansible_ssh_extra_args   ``-o Key=Value`` options read:
                                     StrictHostKeyChecking, UserKnownHostsFile, ProxyJump
                                     (also ``-J``), ConnectTimeout, ServerAliveInterval,
                                     ConnectionAttempts; ``-i`` key file
  ansible_ssh_timeout, ansible_timeout              connect timeout seconds (10)
  ansible_ssh_retries, kprov_connect_retries        extra connect attempts (2)
  kprov_host_key_checking, ansible_host_key_checking  false turns known_hosts checking off;
                                     so do env KPROV_HOST_KEY_CHECKING / ANSIBLE_HOST_KEY_CHECKING
  kprov_jump_host                    ``[user@]host[:port]`` bastion
  kprov_keepalive_interval           seconds between keepalives (15)
  kprov_persistent_shell             false: one exec channel per command instead of one
                                     long-lived remote shell (true)
  kprov_control_persist              seconds a host's SSH session is kept after a run, for the
                                     next run to reuse (60, as Ansible's ssh default
                                     ControlPersist=60s); 0 or false: a new session per run;
                                     env KPROV_CONTROL_PERSIST, or ``-o ControlPersist=`` /
                                     ``-o ControlMaster=no`` in the ssh args, set it too
                                     (variable > environment > ssh args)
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_CONTROL_PERSIST_S", "ConnectionSettings", "JumpHost", "SettingsError", "as_bool",
           "control_persist_s"]

_TRUE = {"yes", "on", "1", "true", "y", "t"}
_FALSE = {"no", "off", "0", "false", "n", "f", ""}
_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}
DEFAULT_CONTROL_PERSIST_S = 60.0
_TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TIME = re.compile(r"(?:\d+(?:\.\d+)?[smhdw]?)+")  # sshd_config(5) TIME FORMATS, and plain seconds
_TIME_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")


class SettingsError(ValueError):
    """An inventory variable about connecting has a value kprov cannot use."""


def as_bool(value: Any, *, what: str = "value") -> bool:
    """Ansible's boolean reading: yes/no/true/false/on/off/1/0 (any case), or a bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingsError(f"{what}: {value!r} is not a boolean (use true/false, yes/no)")


@dataclass(frozen=True)
class JumpHost:
    address: str
    port: int = 22
    user: str | None = None

    @classmethod
    def parse(cls, spec: str) -> JumpHost:
        """``[user@]host[:port]`` (first hop only if a comma-separated chain is given)."""
        first = spec.split(",")[0].strip()
        if first.startswith("ssh://"):
            first = first[len("ssh://") :]
        user, _, hostport = first.rpartition("@")
        host, port = hostport, 22
        if hostport.startswith("["):  # [v6addr]:port
            host, _, rest = hostport[1:].partition("]")
            if rest.startswith(":"):
                port = int(rest[1:])
        elif hostport.count(":") == 1:
            host, port_text = hostport.split(":")
            port = int(port_text)
        if not host:
            raise SettingsError(f"jump host {spec!r}: no host name (expected [user@]host[:port])")
        return cls(address=host, port=port, user=user or None)


def _first(host_vars: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = host_vars.get(name)
        if value is not None and value != "":
            return value
    return None


def _ssh_options(args: str) -> tuple[dict[str, str], str | None]:
    """``-o Key=Value`` options (keys lower-cased) and ``-i`` from an ssh argument string."""
    options: dict[str, str] = {}
    identity: str | None = None
    words = shlex.split(args)
    i = 0
    while i < len(words):
        word = words[i]
        value: str | None = None
        if word in ("-o", "-J", "-i", "-p") and i + 1 < len(words):
            value = words[i + 1]
            i += 1
        elif word.startswith(("-o", "-J", "-i", "-p")) and len(word) > 2:
            value = word[2:]
            word = word[:2]
        i += 1
        if value is None:
            continue
        if word == "-o":
            key, sep, val = value.partition("=")
            if not sep:
                key, _, val = value.partition(" ")
            options[key.strip().lower()] = val.strip()
        elif word == "-J":
            options["proxyjump"] = value
        elif word == "-i":
            identity = value
        elif word == "-p":
            options["port"] = value
    return options, identity


def control_persist_s(value: Any, what: str, *, openssh: bool = False) -> float:
    """Seconds from a ControlPersist-style value: ``yes`` (kept until stopped: inf), ``no`` or
    ``false`` (0: off), or a time (``60``, ``90s``, ``10m``, ``1h30m``). With ``openssh``, 0
    means until stopped, as ``-o ControlPersist=0`` does; as a kprov setting 0 turns it off."""
    if isinstance(value, bool):
        return DEFAULT_CONTROL_PERSIST_S if value else 0.0
    text = str(value).strip().lower()
    if text in ("yes", "true", "on"):
        return float("inf")
    if text in ("no", "false", "off", ""):
        return 0.0
    if not _TIME.fullmatch(text):
        raise SettingsError(f"{what}: {value!r} is not a time (use seconds, or 10m, 1h30m)")
    total = sum(float(n) * _TIME_UNITS[unit] for n, unit in _TIME_PART.findall(text))
    return float("inf") if openssh and total == 0 else total


@dataclass(frozen=True)
class ConnectionSettings:
    host_name: str
    transport: str = "ssh"
    address: str = ""
    port: int = 22
    user: str = field(default_factory=getpass.getuser)
    password: str | None = None
    key_file: str | None = None
    become_password: str | None = None
    host_key_checking: bool = True
    known_hosts_file: str | None = None
    jump: JumpHost | None = None
    connect_timeout: float = 10.0
    connect_retries: int = 2
    keepalive_interval: int = 15
    persistent_shell: bool = True
    control_persist: float = DEFAULT_CONTROL_PERSIST_S  # 0: off; inf: until stopped

    @classmethod
    def from_host_vars(
        cls, host_name: str, host_vars: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> ConnectionSettings:
        env = os.environ if environ is None else environ
        address = str(_first(host_vars, "ansible_host", "ansible_ssh_host") or host_name)
        transport = _transport(host_name, host_vars)
        method = str(_first(host_vars, "ansible_become_method") or "sudo")
        if method != "sudo":
            raise SettingsError(
                f"host {host_name}: ansible_become_method={method!r} is not supported (only sudo)"
            )
        arg_vars = (host_vars.get("ansible_ssh_common_args"), host_vars.get("ansible_ssh_extra_args"))
        ssh_args = " ".join(str(v) for v in arg_vars if v)
        options, identity = _ssh_options(ssh_args)
        checking, known_hosts = _host_key_checking(host_name, host_vars, env, options)
        jump_spec = _first(host_vars, "kprov_jump_host") or options.get("proxyjump")
        if options.get("proxycommand"):
            raise SettingsError(
                f"host {host_name}: ProxyCommand is not supported; "
                "use -o ProxyJump=user@host or kprov_jump_host"
            )
        port, timeout, retries, keepalive = _timings(host_name, host_vars, options)
        user, password, key_file, become_password = _credentials(host_vars, identity)
        persist = _control_persist(host_name, host_vars, env, options)
        return cls(
            host_name=host_name,
            transport=transport,
            address=address,
            port=port,
            user=user,
            password=password,
            key_file=key_file,
            become_password=become_password,
            host_key_checking=checking,
            known_hosts_file=os.path.expanduser(known_hosts) if known_hosts else None,
            jump=JumpHost.parse(str(jump_spec)) if jump_spec else None,
            connect_timeout=timeout,
            connect_retries=max(0, retries),
            keepalive_interval=keepalive,
            persistent_shell=as_bool(
                host_vars.get("kprov_persistent_shell", True),
                what=f"host {host_name}: kprov_persistent_shell",
            ),
            control_persist=persist,
        )


def _timings(
    host_name: str, host_vars: Mapping[str, Any], options: Mapping[str, str]
) -> tuple[int, float, int, int]:
    """Port, connect timeout, connect retries and keepalive interval: the numbers of a
    connection, each from its variables first, then from the ssh args' ``-o`` options."""

    def number(value: Any, default: float, what: str) -> float:
        return _number(host_name, value, default, what)

    port = int(
        number(
            _first(host_vars, "ansible_port", "ansible_ssh_port") or options.get("port"), 22, "ansible_port"
        )
    )
    timeout = number(
        _first(host_vars, "ansible_ssh_timeout", "ansible_timeout") or options.get("connecttimeout"),
        10.0,
        "ansible_timeout",
    )
    retries = int(
        number(_first(host_vars, "kprov_connect_retries", "ansible_ssh_retries"), 2, "ansible_ssh_retries")
    )
    keepalive = int(
        number(
            _first(host_vars, "kprov_keepalive_interval") or options.get("serveraliveinterval"),
            15,
            "kprov_keepalive_interval",
        )
    )
    return port, timeout, retries, keepalive


def _credentials(
    host_vars: Mapping[str, Any], identity: str | None
) -> tuple[str, str | None, str | None, str | None]:
    """Who logs in and with what: user, password, key file (the ssh args' ``-i`` last) and the
    become password, each under any of Ansible's aliases."""
    user = _first(host_vars, "ansible_user", "ansible_ssh_user", "ansible_remote_user")
    password = _first(host_vars, "ansible_password", "ansible_ssh_pass", "ansible_ssh_password")
    key_file = _first(host_vars, "ansible_ssh_private_key_file", "ansible_private_key_file") or identity
    become = _first(
        host_vars, "ansible_become_password", "ansible_become_pass", "ansible_sudo_pass",
        "ansible_sudo_password",
    )
    return str(user or getpass.getuser()), _opt_str(password), _opt_path(key_file), _opt_str(become)


def _transport(host_name: str, host_vars: Mapping[str, Any]) -> str:
    """ssh or local, as ansible_connection says (smart: local for localhost without an address)."""
    transport = str(_first(host_vars, "ansible_connection") or "").lower()
    if not transport or transport == "smart":
        has_address = _first(host_vars, "ansible_host", "ansible_ssh_host") is not None
        transport = "local" if host_name in _LOCAL_NAMES and not has_address else "ssh"
    if transport == "paramiko":
        transport = "ssh"
    if transport not in ("ssh", "local"):
        raise SettingsError(
            f"host {host_name}: ansible_connection={transport!r} is not supported (use ssh or local)"
        )
    return transport


def _host_key_checking(
    host_name: str, host_vars: Mapping[str, Any], env: Mapping[str, str], options: Mapping[str, str]
) -> tuple[bool, str | None]:
    """Whether host keys are checked, and against which known_hosts file (None: the default):
    every source may turn checking off, none can turn it back on."""
    checking = True
    strict = options.get("stricthostkeychecking", "").lower()
    if strict in ("no", "off", "false", "accept-new"):
        checking = False
    for name in ("kprov_host_key_checking", "ansible_host_key_checking"):
        if host_vars.get(name) is not None:
            checking = checking and as_bool(host_vars[name], what=f"host {host_name}: {name}")
    for name in ("KPROV_HOST_KEY_CHECKING", "ANSIBLE_HOST_KEY_CHECKING"):
        if env.get(name) is not None:
            checking = checking and as_bool(env[name], what=f"environment {name}")
    known_hosts = options.get("userknownhostsfile")
    if known_hosts and known_hosts.lower() == "/dev/null":
        known_hosts = None
        checking = False if strict in ("no", "off", "false") else checking
    return checking, known_hosts


def _number(host_name: str, value: Any, default: float, what: str) -> float:
    if value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"host {host_name}: {what}={value!r} is not a number") from None


def _control_persist(
    host_name: str, host_vars: Mapping[str, Any], env: Mapping[str, str], options: Mapping[str, str]
) -> float:
    """How long a kept SSH session lives: ssh options, then the environment, then the host."""
    persist = DEFAULT_CONTROL_PERSIST_S
    if options.get("controlmaster", "").lower() in ("no", "false"):
        persist = 0.0
    elif options.get("controlpersist") is not None:
        what = f"host {host_name}: ControlPersist"
        persist = control_persist_s(options["controlpersist"], what, openssh=True)
    if env.get("KPROV_CONTROL_PERSIST") is not None:
        persist = control_persist_s(env["KPROV_CONTROL_PERSIST"], "environment KPROV_CONTROL_PERSIST")
    if host_vars.get("kprov_control_persist") is not None:
        what = f"host {host_name}: kprov_control_persist"
        persist = control_persist_s(host_vars["kprov_control_persist"], what)
    return persist


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_path(value: Any) -> str | None:
    return None if value is None else os.path.expanduser(str(value))
