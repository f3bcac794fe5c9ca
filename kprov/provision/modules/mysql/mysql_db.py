"""community.mysql.mysql_db: databases present or absent, a dump to a file, a file imported.

Three steps (modules.contract). ``probes``: one query listing which of the named databases
exist (information_schema.SCHEMATA). ``decide`` plans the module's statements — ``CREATE
DATABASE `name` [CHARACTER SET 'enc'] [COLLATE 'coll']`` for each missing one (present),
``DROP DATABASE `name``` for each existing one (absent) — returned as
``executed_commands`` as the module does (not in check mode); ``dump`` runs
``mariadb-dump``/``mysqldump`` into ``target`` (compressed by its .gz/.bz2/.xz name) and
``import`` feeds ``target`` to the client, both always changed as in the module. ``act``
sends the statements on the client's standard input (modules.mysql_common).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule, read_declared
from kprov.provision.modules.mysql.mysql_common import (
    LOGIN_SPEC,
    SqlPlan,
    client,
    login_args,
    login_problem,
    query,
    run_sql,
    sql_ident,
    sql_str,
)

__all__ = ["MODULE", "MysqlDbModule"]

_COMPRESSORS = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}
_SSL_FLAGS = {"client_cert": "ssl-cert", "client_key": "ssl-key", "ca_cert": "ssl-ca"}
_PROGRAMS = ("mariadb", "mysql", "gzip", "bzip2", "xz", "zstd")


class MysqlDbModule(ThreeStepModule):
    name = "mysql_db"
    spec = {
        **LOGIN_SPEC,
        "name": Arg("list", required=True, aliases=("db",)),
        "encoding": Arg(default=""),
        "collation": Arg(default=""),
        "target": Arg(),
        "state": Arg(default="present", choices=("absent", "dump", "import", "present")),
        "single_transaction": Arg("bool", default=False),
        "quick": Arg("bool", default=True),
        "ignore_tables": Arg("list", default=[]),
        "hex_blob": Arg("bool", default=False),
        "force": Arg("bool", default=False),
        "master_data": Arg("int", default=0, choices=(0, 1, 2)),
        "skip_lock_tables": Arg("bool", default=False),
        "dump_extra_args": Arg(),
        "use_shell": Arg("bool", default=False),
        "unsafe_login_password": Arg("bool", default=False),
        "restrict_config_file": Arg("bool", default=False),
        "check_implicit_admin": Arg("bool", default=False),
        "config_overrides_defaults": Arg("bool", default=False),
        "chdir": Arg(),
        "pipefail": Arg("bool", default=False),
        "sql_log_bin": Arg("bool", default=True),
    }

    @staticmethod
    def _names(params: Mapping[str, Any]) -> list[str]:
        return [str(n).strip() for n in params["name"]]

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        names = self._names(params)
        if not names or names == ["all"] or login_problem(params):
            return []
        listed = ", ".join(sql_str(n) for n in names)
        probes = [query(params, f"SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "
                                f"WHERE SCHEMA_NAME IN ({listed})")]
        if params["state"] == "import":  # the programs' paths and the config file, for the record
            config = str(params["config_file"] or "").replace("~", "$HOME", 1)
            probes.append(f'for p in {" ".join(_PROGRAMS)}; do command -v $p; done; '
                          f'[ -n "{config}" ] && [ -e "{config}" ] && echo "CONFIG:{config}"; true')
        return probes

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        names, state = self._names(params), params["state"]
        if not names:
            return Plan(data={"db": names, "db_list": []})
        problem = login_problem(params)
        if problem:
            return Plan(failed=problem)
        if len(names) > 1 and state == "import":
            return Plan(failed="Multiple databases are not supported with state=import")
        all_databases = False
        if state in ("dump", "import"):
            if params["target"] is None:
                return Plan(failed=f"with state={state} target is required")
            all_databases = names == ["all"]
        elif names == ["all"]:
            return Plan(failed="name is not allowed to equal 'all' unless state equals import, or dump.")
        results = list(observed.values())
        if results and results[0].rc != 0:
            reason = (results[0].stderr or results[0].stdout).strip()
            return Plan(failed=f"unable to connect to database: {reason}")
        existing = set(results[0].stdout.splitlines()) if results else set()
        present = [n for n in names if n in existing]
        missing = [n for n in names if n not in existing]
        plan = SqlPlan(data={"db": " ".join(names), "db_list": names}, login=login_args(params))
        if state == "absent":
            plan.sql = [f"DROP DATABASE {sql_ident(n)}" for n in present]
        elif state == "present" or (state == "import" and not all_databases):
            plan.sql = [self._create(n, params) for n in missing]
        if state in ("absent", "present"):
            plan.changed = bool(plan.sql)
            plan.data["executed_commands"] = list(plan.sql)
            return plan
        if state == "dump" and missing and not all_databases:
            return Plan(failed=f"Cannot dump database(s) {', '.join(missing)!r} - not found")
        plan.changed = True
        plan.data["executed_commands"] = list(plan.sql)
        if state == "dump":
            plan.commands = [self._dump(params, names, all_databases)]
        else:
            plan.commands = [self._import(params, names, all_databases)]
            found = results[1].stdout if len(results) > 1 else ""
            plan.data["executed_commands"].append(self._import_record(params, names, all_databases, found))
        return plan

    @staticmethod
    def _import_record(params: Mapping[str, Any], names: list[str], all_databases: bool, found: str) -> str:
        """The import command as the module records it in executed_commands (its own argv)."""
        paths = {line.rsplit("/", 1)[-1]: line for line in found.splitlines() if line.startswith("/")}
        config = next((line[7:] for line in found.splitlines() if line.startswith("CONFIG:")), "")
        argv = [paths.get("mariadb") or paths.get("mysql") or "mysql"]
        if config:
            argv.append(f"--defaults-extra-file={shlex.quote(config)}")
        if params["login_user"]:
            argv.append(f"--user={shlex.quote(params['login_user'])}")
        for name in ("client_cert", "client_key", "ca_cert"):
            if params.get(name):
                argv.append(f"--{_SSL_FLAGS[name]}={shlex.quote(params[name])}")
        if params["force"]:
            argv.append("-f")
        if params["login_unix_socket"]:
            argv.append(f"--socket={shlex.quote(params['login_unix_socket'])}")
        else:
            argv += [f"--host={shlex.quote(params['login_host'])}", f"--port={int(params['login_port'])}"]
        if params["encoding"]:
            argv.append(f"--default-character-set={shlex.quote(params['encoding'])}")
        if not all_databases:
            argv += ["--one-database", shlex.quote(names[0])]
        target = params["target"]
        extension = next((e for e in _COMPRESSORS if target.endswith(e)), "")
        if extension:
            return f"{paths.get(_COMPRESSORS[extension], _COMPRESSORS[extension])} -dc {target} | {argv!r}"
        return f"{' '.join(argv)} < {shlex.quote(target)}"

    @staticmethod
    def _create(name: str, params: Mapping[str, Any]) -> str:
        words = [f"CREATE DATABASE {sql_ident(name)}"]
        if params["encoding"]:
            words.append(f"CHARACTER SET {sql_str(params['encoding'])}")
        if params["collation"]:
            words.append(f"COLLATE {sql_str(params['collation'])}")
        return " ".join(words)

    @staticmethod
    def _dump(params: Mapping[str, Any], names: list[str], all_databases: bool) -> str:
        target = params["target"]
        words = []
        if params["quick"]:
            words.append("--quick")
        for flag in ("single_transaction", "hex_blob", "force", "skip_lock_tables"):
            if params[flag]:
                words.append("--" + flag.replace("_", "-"))
        if params["encoding"]:
            words.append(f"--default-character-set={shlex.quote(params['encoding'])}")
        if params["master_data"]:
            words.append(f"--master-data={params['master_data']}")
        for table in params["ignore_tables"]:
            words.append(f"--ignore-table={shlex.quote(str(table))}")
        if params["dump_extra_args"]:
            words.append(params["dump_extra_args"])
        if all_databases:
            words.append("--all-databases")
        elif len(names) > 1:
            words += ["--databases", *(shlex.quote(n) for n in names)]
        else:
            words.append(shlex.quote(names[0]))
        dump = client(params, "$d", timeout=False)
        extension = next((e for e in _COMPRESSORS if target.endswith(e)), "")
        sink = f"> {shlex.quote(target)}"
        if extension:
            sink = f"| {_COMPRESSORS[extension]} {sink}"
        pick = "d=mysqldump; command -v mariadb-dump >/dev/null && d=mariadb-dump; "
        return "bash -o pipefail -c " + shlex.quote(f"{pick}{dump} {' '.join(words)} {sink}")

    @staticmethod
    def _import(params: Mapping[str, Any], names: list[str], all_databases: bool) -> str:
        target = shlex.quote(params["target"])
        extension = next((e for e in _COMPRESSORS if params["target"].endswith(e)), "")
        source = f"{_COMPRESSORS[extension]} -dc {target} |" if extension else ""
        database = "" if all_databases else f" --one-database {shlex.quote(names[0])}"
        command = f"{client(params)}{database}"
        if source:
            return "bash -o pipefail -c " + shlex.quote(f"{source} {command}")
        return f"{command} < {target}"

    def act(self, ctx: ModuleContext, plan: Plan) -> None:
        assert isinstance(plan, SqlPlan)
        what = "error creating database" if "CREATE" in "".join(plan.sql) else "error deleting database"
        run_sql(ctx, plan.login, plan.sql, what=what)
        for command in plan.commands:
            done = ctx.run(command)
            if done.rc != 0:
                raise ModuleFailed((done.stderr or done.stdout).strip(), rc=done.rc)
            plan.data["msg"] = done.stdout

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        params = self.params(args)
        observed = read_declared(self, ctx, params)
        plan = self.decide(params, observed)
        if plan.failed:
            return ModuleResult(failed=True, msg=plan.failed)
        if ctx.check_mode:  # the module returns no executed_commands in check mode
            plan.data.pop("executed_commands", None)
            return ModuleResult(changed=plan.changed, data=plan.data)
        if plan.changed:
            self.act(ctx, plan)
        msg = plan.data.pop("msg", "")
        return ModuleResult(changed=plan.changed, msg=msg, data=plan.data)


MODULE = MysqlDbModule()
