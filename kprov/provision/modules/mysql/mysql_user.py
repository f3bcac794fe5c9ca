"""community.mysql.mysql_user: a user@host account present (password, privileges) or absent.

Three steps (modules.contract). ``probes``: one client run that prints whether the account
exists, a SHA-256 digest of its stored password hash (never the hash itself), the server's
sql_mode (ANSI quoting) and its grants (``SHOW GRANTS``, with any ``IDENTIFIED BY PASSWORD``
part cut on the host). ``decide`` follows the module (new user management, MariaDB ≥ 10.2 /
MySQL ≥ 5.7):

* the password's ``mysql_native_password`` hash (``*`` + upper-case hex of
  SHA1(SHA1(password))) is computed on the operator's machine — the module asks the server
  for the same value — and compared with the stored one through its digest; a differing one
  gives ``ALTER USER ... IDENTIFIED WITH mysql_native_password AS '<hash>'`` ("Password
  updated (new style)"; "Password updated" in check mode), a new user ``CREATE USER`` with it
  ("User added");
* ``priv`` (``db.table:PRIV,PRIV/db2.*:ALL`` or a dict) is unpacked as the module does
  (``*.*:USAGE`` added) and compared with the parsed grants: whole objects not wanted are
  revoked, new ones granted, differing ones granted/revoked the difference
  (``append_privs`` only grants, ``subtract_privs`` only revokes); the module's message for
  the last kind of change is kept;
* absent drops the account ("User deleted", or "User doesn't exist").

Only the hash reaches the host, on the client's standard input (modules.mysql_common).
Not here: column privileges, TLS requirements, resource limits, attributes, authentication
plugins other than the native one, ``host_all``.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleResult, TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule, read_declared
from kprov.provision.modules.mysql.mysql_common import (
    LOGIN_SPEC,
    SqlPlan,
    client,
    login_args,
    login_problem,
    run_sql,
    sql_str,
)

__all__ = ["MODULE", "MysqlUserModule", "native_hash", "unpack_privileges"]

_GRANT = re.compile(r"GRANT (.+) ON (.+) TO (['`\"]).*\3@(['`\"]).*\4 ?(.*)")
_UNSUPPORTED = ("tls_requires", "resource_limits", "attributes", "plugin", "plugin_hash_string",
                "plugin_auth_string", "salt", "session_vars", "password_expire", "locked")


def native_hash(password: str) -> str:
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()  # noqa: S324


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def unpack_privileges(priv: str, ansi: bool, ensure_usage: bool = True) -> dict[str, list[str]]:
    """``db.table:PRIV,PRIV/...`` as the module unpacks it (object names quoted, privileges
    upper case)."""
    quote = '"' if ansi else "`"
    out: dict[str, list[str]] = {}
    for item in priv.strip().split("/"):
        target, _, privs = item.strip().rpartition(":")
        sides = target.rsplit(".", 1)
        kind = ""
        head = sides[0].split(" ", 1)
        if len(head) > 1 and head[0] in ("FUNCTION", "PROCEDURE"):
            kind, sides[0] = head[0] + " ", head[1]
        sides = [s if s.strip("`") == "*" else f"{quote}{s.strip('`')}{quote}" for s in sides]
        out[kind + ".".join(sides)] = [p.strip() for p in privs.upper().split(",")]
    if ensure_usage and "*.*" not in out:
        out["*.*"] = ["USAGE"]
    return out


def parse_grants(lines: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in lines:
        found = _GRANT.match(line)
        if found is None:
            continue  # role grants and SET DEFAULT ROLE, which the module skips too
        privs = ["ALL" if p.strip() == "ALL PRIVILEGES" else p.strip() for p in found.group(1).split(",")]
        if "WITH GRANT OPTION" in found.group(5):
            privs.append("GRANT")
        out.setdefault(found.group(2), []).extend(privs)
    return out


class MysqlUserModule(ThreeStepModule):
    name = "mysql_user"
    spec = {
        **LOGIN_SPEC,
        "name": Arg(required=True, aliases=("user",)),
        "password": Arg(),
        "encrypted": Arg("bool", default=False),
        "host": Arg(default="localhost"),
        "host_all": Arg("bool", default=False),
        "state": Arg(default="present", choices=("absent", "present")),
        "priv": Arg("raw"),
        "append_privs": Arg("bool", default=False),
        "subtract_privs": Arg("bool", default=False),
        "check_implicit_admin": Arg("bool", default=False),
        "update_password": Arg(default="always", choices=("always", "on_create", "on_new_username")),
        "sql_log_bin": Arg("bool", default=True),
        "force_context": Arg("bool", default=False),
        "column_case_sensitive": Arg("bool"),
        "password_expire_interval": Arg("int"),
        **{name: Arg("raw") for name in _UNSUPPORTED},
    }

    @staticmethod
    def _account(params: Mapping[str, Any]) -> str:
        return f"{sql_str(params['name'])}@{sql_str(str(params['host']).lower())}"

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        if login_problem(params):
            return []
        where = f"user = {sql_str(params['name'])} AND host = {sql_str(str(params['host']).lower())}"
        sql = (f"SELECT 'EXISTS', COUNT(*) FROM mysql.user WHERE {where}; "
               "SELECT 'HASH', SHA2(COALESCE(NULLIF(authentication_string, ''), NULLIF(Password, ''), ''), "
               "256) "
               f"FROM mysql.user WHERE {where}; "
               "SELECT 'MODE', @@GLOBAL.sql_mode; "
               f"SHOW GRANTS FOR {self._account(params)}")
        cut = "sed \"s/ IDENTIFIED BY PASSWORD '[^']*'//\""
        run = f"{client(params)} --batch --skip-column-names --force --execute={shlex.quote(sql)}"
        return [f"{run} 2>&1 | {cut}"]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        problem = login_problem(params)
        if problem:
            return Plan(failed=problem)
        given = [name for name in _UNSUPPORTED if params.get(name) not in (None, {}, [])]
        if given or params["host_all"]:
            return Plan(failed=f"mysql_user: {', '.join(given or ['host_all'])} not supported by kprov")
        if params["append_privs"] and params["subtract_privs"]:
            return Plan(failed="parameters are mutually exclusive: append_privs|subtract_privs")
        (probe,) = observed.values()
        lines = probe.stdout.splitlines()
        fields = {line.split("\t", 1)[0]: line.split("\t", 1)[1] for line in lines
                  if line.split("\t", 1)[0] in ("EXISTS", "HASH", "MODE") and "\t" in line}
        if "EXISTS" not in fields:
            return Plan(failed="unable to connect to database, check login_user and login_password are "
                               f"correct or {params['config_file']} has the credentials. "
                               f"Exception message: {probe.stdout.strip()}")
        exists = fields["EXISTS"].strip() != "0"
        plan = SqlPlan(login=login_args(params), data={"user": params["name"], "password_changed": False,
                                                 "attributes": None})
        account = self._account(params)
        if params["state"] == "absent":
            if exists:
                plan.sql, plan.changed, plan.msg = [f"DROP USER {account}"], True, "User deleted"
            else:
                plan.msg = "User doesn't exist"
            return plan
        try:
            wanted = self._wanted_privileges(params, "ANSI" in fields.get("MODE", ""))
        except ValueError as exc:
            return Plan(failed=str(exc))
        password = params["password"]
        if password and params["encrypted"] and not re.fullmatch(r"\*[0-9A-F]{40}", password):
            return Plan(failed="encrypted was specified however it does not appear to be a valid hash "
                               "expecting: *SHA1(SHA1(your_password))")
        hashed = (password if params["encrypted"] else native_hash(password)) if password else None
        if not exists:
            identified = f" IDENTIFIED WITH mysql_native_password AS {sql_str(hashed)}" if hashed else ""
            plan.sql = [f"CREATE USER {account}{identified}"]
            if wanted is not None and not params["subtract_privs"]:
                plan.sql += [self._grant(db, privs, account) for db, privs in wanted.items()]
            plan.changed, plan.msg = True, "User added"
            plan.data["password_changed"] = True  # the module's answer for any new account
            return plan
        plan.msg = "User unchanged"
        if hashed and params["update_password"] == "always" and _digest(hashed) != fields.get("HASH", ""):
            plan.sql.append(f"ALTER USER {account} IDENTIFIED WITH mysql_native_password AS "
                            f"{sql_str(hashed)}")
            plan.msg, plan.changed = "Password updated (new style)", True
            plan.data["password_changed"] = True
            plan.data["check_msg"] = "Password updated"
        if wanted is not None:
            self._privileges(params, parse_grants(lines), wanted, account, plan)
        return plan

    @staticmethod
    def _wanted_privileges(params: Mapping[str, Any], ansi: bool) -> dict[str, list[str]] | None:
        priv = params["priv"]
        if priv is None or priv == "":
            return None
        if isinstance(priv, Mapping):
            priv = "/".join(f"{k}:{v}" for k, v in priv.items())
        elif not isinstance(priv, str):
            raise ValueError(f"priv parameter must be str or dict but {type(priv)} was passed")
        return unpack_privileges(priv, ansi, ensure_usage=not params["subtract_privs"])

    @staticmethod
    def _grant(db: str, privs: list[str], account: str) -> str:
        text = ",".join(p for p in privs if p != "GRANT")
        return f"GRANT {text} ON {db} TO {account}" + (" WITH GRANT OPTION" if "GRANT" in privs else "")

    @staticmethod
    def _revoke(db: str, privs: list[str], account: str, grant_option: bool) -> list[str]:
        out = [f"REVOKE GRANT OPTION ON {db} FROM {account}"] if grant_option else []
        text = ",".join(p for p in privs if p != "GRANT")
        if text and not (grant_option and text == "USAGE"):
            out.append(f"REVOKE {text} ON {db} FROM {account}")
        return out

    def _privileges(self, params: Mapping[str, Any], current: dict[str, list[str]],
                    wanted: dict[str, list[str]], account: str, plan: SqlPlan) -> None:
        append, subtract = params["append_privs"], params["subtract_privs"]
        grant_option = False
        if not append and not subtract:
            for db, privs in current.items():
                grant_option = grant_option or "GRANT" in privs
                if db not in wanted and params["name"] != "root" and "PROXY" not in privs:
                    plan.sql += self._revoke(db, privs, account, grant_option)
                    plan.msg, plan.changed = "Privileges updated", True
        if not subtract:
            for db, privs in wanted.items():
                if db not in current:
                    plan.sql.append(self._grant(db, privs, account))
                    plan.msg, plan.changed = "New privileges granted", True
        for db in [d for d in wanted if d in current]:
            new, old = wanted[db], current[db]
            grants: list[str] = []
            revokes: list[str] = []
            if append:
                grants = [p for p in new if p not in old]
            elif subtract:
                revokes = [p for p in new if p in old]
            else:
                grants = [p for p in new if p not in old]
                revokes = [p for p in old if p not in new]
                if "ALL" in grants or "ALL PRIVILEGES" in grants:
                    revokes = [p for p in revokes if p in ("GRANT", "PROXY")]
                grant_option = "GRANT" in revokes and "GRANT" not in grants
            if grants == ["GRANT"]:
                grants.append("USAGE")
            if grants or revokes:
                plan.msg = f"Privileges updated: granted {grants}, revoked {revokes}"
                plan.changed = True
                if revokes:
                    plan.sql += self._revoke(db, revokes, account, grant_option)
                if grants:
                    plan.sql.append(self._grant(db, grants, account))

    def act(self, ctx: ModuleContext, plan: Plan) -> None:
        assert isinstance(plan, SqlPlan)
        run_sql(ctx, plan.login, plan.sql, what="mysql_user")

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        params = self.params(args)
        observed = read_declared(self, ctx, params)
        plan = self.decide(params, observed)
        check_msg = plan.data.pop("check_msg", None)
        if plan.failed:
            return ModuleResult(failed=True, msg=plan.failed)
        if ctx.check_mode:
            if plan.msg == "User added":
                plan.data["password_changed"] = None
            return ModuleResult(changed=plan.changed, msg=check_msg or plan.msg, data=plan.data)
        if plan.changed:
            self.act(ctx, plan)
        return ModuleResult(changed=plan.changed, msg=plan.msg, data=plan.data)


MODULE = MysqlUserModule()
