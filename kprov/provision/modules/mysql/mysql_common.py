"""What community.mysql's modules share here: login arguments, the client command, SQL quoting.

kprov reaches the server with the ``mysql`` client on the host (MariaDB's or MySQL's), the
way the host's own administrator would: as the task's (become) user through the unix socket
(``login_unix_socket``, else the client's default, which for ``localhost`` is the socket),
with ``login_user`` and ``config_file`` (read by the client when it exists) as given. A
probe is a read-only query on the client's command line; statements that change the server
go on the client's standard input, so no credential ever appears in a command line
(``ps``), a probe cache key or a log. ``login_password`` would have to, so it is refused
with a message naming the ways that work. Each statement's text is built with the quoting
of the Ansible modules' driver (strings in single quotes, backslash and quote escaped;
identifiers in backticks).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed
from kprov.provision.modules.contract import Plan

__all__ = [
    "LOGIN_SPEC", "SqlPlan", "client", "login_args", "login_problem", "query", "run_sql", "sql_ident",
    "sql_str",
]

LOGIN_SPEC: dict[str, Arg] = {
    "login_user": Arg(),
    "login_password": Arg(),
    "login_host": Arg(default="localhost"),
    "login_port": Arg("int", default=3306),
    "login_unix_socket": Arg(),
    "config_file": Arg(default="~/.my.cnf"),
    "connect_timeout": Arg("int", default=30),
    "client_cert": Arg(aliases=("ssl_cert",)),
    "client_key": Arg(aliases=("ssl_key",)),
    "ca_cert": Arg(aliases=("ssl_ca",)),
    "check_hostname": Arg("bool"),
}


@dataclass
class SqlPlan(Plan):
    """A plan whose statements go to the client's standard input (``sql``), never in ``data``."""

    sql: list[str] = field(default_factory=list)
    login: dict[str, Any] = field(default_factory=dict)  # the task's login arguments, for act


def sql_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_ident(value: str) -> str:
    return "`" + value.replace("`", "``") + "`"


def login_args(params: Mapping[str, Any]) -> dict[str, Any]:
    """Only the login arguments (what ``act`` needs to reach the server; never a password)."""
    return {name: params[name] for name in LOGIN_SPEC if name != "login_password"}


def login_problem(params: Mapping[str, Any]) -> str:
    if params.get("login_password"):
        return ("login_password: kprov puts no password on a command line; log in through the unix socket "
                "(login_unix_socket, the server's socket authentication for root) or a config_file")
    port = params["login_port"]
    if port < 0 or port > 65535:
        return "login_port must be a valid unix port number (0-65535)"
    return ""


def client(params: Mapping[str, Any], program: str = "mysql", *, timeout: bool = True) -> str:
    """The client command line (no statement, no password). The client reads ~/.my.cnf by
    itself; another ``config_file`` is passed when it exists, as the module's driver does."""
    prefix = ""
    words = [program]
    config = params["config_file"]
    if config and config != "~/.my.cnf":
        quoted = shlex.quote(config)
        prefix = f"set --; [ -e {quoted} ] && set -- --defaults-extra-file={quoted}; "
        words = [f'{program} "$@"']
    if timeout:  # the client's option (the dump tool has none)
        words.append(f"--connect-timeout={int(params['connect_timeout'])}")
    if params["login_user"]:
        words.append(f"--user={shlex.quote(params['login_user'])}")
    if params["login_unix_socket"]:
        words.append(f"--socket={shlex.quote(params['login_unix_socket'])}")
    elif params["login_host"] not in ("localhost", ""):
        words.append(f"--host={shlex.quote(params['login_host'])} --port={int(params['login_port'])}")
    for name, flag in (("client_cert", "--ssl-cert"), ("client_key", "--ssl-key"), ("ca_cert", "--ssl-ca")):
        if params.get(name):
            words.append(f"{flag}={shlex.quote(params[name])}")
    return prefix + " ".join(words)


def query(params: Mapping[str, Any], sql: str) -> str:
    """A read-only probe: ``sql`` on the client's command line, tab-separated rows out."""
    return f"{client(params)} --batch --skip-column-names --execute={shlex.quote(sql)}"


def run_sql(ctx: ModuleContext, params: Mapping[str, Any], statements: list[str], *, what: str) -> None:
    """Run statements through the client's standard input; a failure names the server's error."""
    if not statements:
        return
    done = ctx.run(f"{client(params)} --batch", stdin=("".join(s + ";\n" for s in statements)).encode())
    if done.rc != 0:
        raise ModuleFailed(f"{what}: {(done.stderr or done.stdout).strip()}", rc=done.rc)
