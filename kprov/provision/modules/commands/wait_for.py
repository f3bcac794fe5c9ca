"""ansible.builtin.wait_for: wait on the host for a port, a path, or a regex in a file, or
for a port's active connections to drain (``tcp_drain``; a name there that does not resolve
fails the task at once with the crash ansible-core's module reports).

The whole wait is ONE remote shell loop (delay, then poll until ``timeout``), so waiting
costs one round trip however long it takes. The first 2 s poll every 0.1 s, then every
``sleep`` seconds (Ansible's interval, an int): a service that comes up after 1.1 s is seen
then, not a whole ``sleep`` later (a check only reads, so polling faster changes nothing
else). A port is probed with bash's /dev/tcp (bash is essential on Debian);
``search_regex`` in a file with ``grep -P`` (Python's regex syntax, as ansible-core's), then
the matched file read once for ``match_groups``/``match_groupdict``. Never
``changed``. It does not support check mode (ansible-core 2.19's wait_for declares
``check_mode: none``): a check-mode run reports it skipped, as Ansible does, instead of
waiting on a port or file only the real run would bring about (a plan of a new host timed
out on its node-local API port). ``check_mode: false`` on the task makes it wait anyway.

In the module contract's steps: ``decide`` (pure) gives a frozen ``WaitPlan``: met already
when the engine read the condition ahead and it holds, else the wait to do. The polling
itself is the act: its reads are interleaved with time passing on the host, so they cannot
be read up front (an unknown condition is not read on its own either: the loop's first
poll tests it in the same round trip).
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.commands.tcp_drain import (
    DEFAULT_ACTIVE_STATES,
    UNRESOLVED,
    drain_probe,
    drain_resolve,
    unknown_states,
)
from kprov.provision.modules.contract import ModuleBase
from kprov.provision.modules.protocol.answer import parse_answer
from kprov.provision.modules.protocol.remote import interpreter_for

__all__ = ["MODULE", "WaitForModule", "WaitPlan", "port_probe"]

SPEC = {
    "host": Arg(default="127.0.0.1"),
    "port": Arg("int"),
    "path": Arg(),
    "state": Arg(default="started", choices=("absent", "drained", "present", "started", "stopped")),
    "timeout": Arg("int", default=300),
    "delay": Arg("int", default=0),
    "sleep": Arg("int", default=1),
    "connect_timeout": Arg("int", default=5),
    "search_regex": Arg(),
    "exclude_hosts": Arg("list"),
    "active_connection_states": Arg("list", default=list(DEFAULT_ACTIVE_STATES)),
    "msg": Arg(),
}


_PORT_ONLY = "should only be used for checking a port in the wait_for module"
_FAST_POLLS = 20  # x 0.1 s
_ELAPSED = 'echo "elapsed:$(( ($(date +%s%N) - start) / 1000000000 ))";'


def port_probe(host: str, port: int, connect_timeout: int) -> str:
    """True (rc 0) when a TCP connection to host:port opens within ``connect_timeout`` s
    (rc 1 when it is refused or fails, 124 when it times out)."""
    target = f"/dev/tcp/{host}/{port}"
    return f"timeout {connect_timeout} bash -c {shlex.quote(f'exec 3<>{target}')} 2>/dev/null"


def _check(p: dict[str, Any]) -> str:
    """A shell condition that is true when the wait is over."""
    if p["path"]:
        q = shlex.quote(p["path"])
        if p["state"] in ("absent", "stopped"):
            return f"[ ! -e {q} ]"
        if p["search_regex"]:
            # Perl-compatible, bytewise: Python's syntax ((?P<name>...), \\w) as ansible-core's re
            return f"LC_ALL=C grep -aPq -- {shlex.quote(p['search_regex'])} {q} 2>/dev/null"
        return f"[ -e {q} ]"
    if p["state"] == "drained":  # (after drain_resolve, which decide puts before the loop)
        return drain_probe(p["_python"], p["port"], p["active_connection_states"])
    probe = port_probe(p["host"], p["port"], p["connect_timeout"])
    if p["state"] in ("stopped", "absent"):
        return f"! {probe}"
    return probe


def _match_groups(ctx: ModuleContext, path: str, regex: str) -> dict[str, Any]:
    """ansible-core's ``match_groups``/``match_groupdict`` of the match the wait found (the
    file read once more, the regex applied as Python's, MULTILINE)."""
    read = ctx.read(f"cat -- {shlex.quote(path)}")
    try:
        match = re.search(regex, read.stdout, re.M)
    except re.error:
        match = None
    if match is None:
        return {}
    return {"match_groups": list(match.groups()), "match_groupdict": match.groupdict()}


def timeout_message(p: Mapping[str, Any]) -> str:
    """ansible-core's message for a wait that timed out, by what it waited on."""
    where, regex = f"{p['host']}:{p['port']}", p["search_regex"]
    if p["path"]:
        if p["state"] == "absent":
            return f"Timeout when waiting for {p['path']} to be absent."
        return (f"Timeout when waiting for search string {regex} in {p['path']}" if regex
                else f"Timeout when waiting for file {p['path']}")
    if p["state"] in ("stopped", "absent"):
        return f"Timeout when waiting for {where} to stop."
    if p["state"] == "drained":
        return f"Timeout when waiting for {where} to drain"
    if regex:
        return f"Timeout when waiting for search string {regex} in {where}"
    return f"Timeout when waiting for {where}"


@dataclass(frozen=True)
class WaitPlan:
    """A wait decided: ``met`` already, a controller ``sleep`` (seconds; no port or path), or
    the host's polling ``script``; the result's data and the message when it times out."""

    met: bool = False
    sleep: int = 0
    script: str = ""
    read_timeout: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    timeout_msg: str = ""


class WaitForModule(ModuleBase):
    name = "wait_for"
    spec = SPEC

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        p = parse_args(self.name, SPEC, args)
        # ansible-core's refusals, before any wait (``elapsed`` 0)
        if p["port"] is not None and p["path"]:
            raise ModuleFailed("port and path parameter can not both be passed to wait_for", elapsed=0)
        if p["path"] and p["state"] in ("stopped", "drained"):
            raise ModuleFailed(f"state={p['state']} {_PORT_ONLY}", elapsed=0)
        if p["exclude_hosts"] is not None and p["state"] != "drained":
            raise ModuleFailed("exclude_hosts should only be with state=drained", elapsed=0)
        if unknown := unknown_states(p["active_connection_states"]):
            raise ModuleFailed(f"unknown active_connection_state ({unknown[0]}) defined", elapsed=0)
        if p["search_regex"] and not p["path"]:
            raise ModuleFailed("wait_for: search_regex is supported with path only in kprov")
        return p

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        """The condition, when a wait without delay may find it met already (answered only
        from the probe cache: ``ctx.peek``); the wait itself runs live."""
        if (view.check_mode or params["delay"] or (params["port"] is None and not params["path"])
                or params["state"] == "drained"):  # (drained: needs the host's interpreter, a task var)
            return []
        return [_check(dict(params))]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> WaitPlan:
        """The wait decided: met already (the condition read ahead, ``observed``: only probes
        the engine read, never read live for this), a plain sleep (no port or path), or the
        remote polling loop and how its end is reported."""
        p = dict(params)
        if p["port"] is None and not p["path"]:
            # ansible-core sleeps the delay, then the timeout (a drain of nothing: only the delay)
            return WaitPlan(sleep=p["delay"] + (p["timeout"] if p["state"] != "drained" else 0),
                            data={"state": p["state"]})
        condition = _check(p)
        data: dict[str, Any] = {"state": p["state"]}
        data.update({k: p[k] for k in ("port", "path", "search_regex") if p[k] is not None})
        known = observed.get(condition)
        if known is not None and known.rc == 0:
            return WaitPlan(met=True, data=data)
        # timed on the host in nanoseconds from before the delay, as ansible-core's module
        # times itself: ``elapsed`` is whole seconds of that, not the round trip's
        test = f"if {condition}; then {_ELAPSED} exit 0; fi; "
        resolve = ""
        if p["state"] == "drained":  # names resolved once; one that does not ends it at once
            resolve = f"{drain_resolve(p['_python'], p['host'], p['exclude_hosts'] or [])} || exit $?; "
        script = (
            f"start=$(date +%s%N); sleep {p['delay']}; {resolve}"
            f"end=$(( start + {p['timeout']} * 1000000000 )); "
            f"n=0; while :; do {test}"
            f"[ $(date +%s%N) -ge $end ] && {{ {_ELAPSED} exit 3; }}; "
            f"if [ $n -lt {_FAST_POLLS} ] && [ {p['sleep']} -gt 0 ]; then n=$((n + 1)); sleep 0.1; "
            f"else sleep {p['sleep']}; fi; done"
        )
        return WaitPlan(data=data, script=script,
                        read_timeout=p["delay"] + p["timeout"] + p["connect_timeout"] + 30,
                        timeout_msg=p["msg"] or timeout_message(p))

    def act(self, ctx: ModuleContext, plan: WaitPlan) -> ModuleResult:
        """The wait itself: a sleep on the controller, or the polling loop on the host (one
        read, however long); ``elapsed`` is how long it took."""
        started = time.monotonic()
        if not plan.script:
            if plan.sleep:
                time.sleep(plan.sleep)
            return ModuleResult(data={"elapsed": int(time.monotonic() - started), **plan.data})
        done = ctx.read(plan.script, timeout=plan.read_timeout)
        timed = re.search(r"^elapsed:(\d+)$", done.stdout, re.M)
        data = {"elapsed": int(timed.group(1)) if timed else int(time.monotonic() - started), **plan.data}
        if done.rc == UNRESOLVED and plan.data.get("state") == "drained":
            # ansible-core's module raised (getaddrinfo): its crash as the action reads it
            crash = parse_answer("", done.stderr, 1)
            raise ModuleFailed(crash.pop("msg"), **{k: v for k, v in crash.items() if k != "failed"})
        if done.rc == 0:
            if plan.data.get("search_regex") and plan.data.get("path"):
                data.update(_match_groups(ctx, plan.data["path"], plan.data["search_regex"]))
            return ModuleResult(data=data)
        raise ModuleFailed(plan.timeout_msg, **data)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        if ctx.check_mode:
            parse_args(self.name, SPEC, args)
            return ModuleResult(skipped=True, msg=f"remote module ({self.name}) does not support check mode")
        params = self.params(args)
        if params["state"] == "drained":
            params["_python"] = interpreter_for("/usr/bin/python", ctx.task_vars)
        peeked = {probe: known for probe in self.probes(params, ctx.view())
                  if (known := ctx.peek(probe)) is not None}
        plan = self.decide(params, peeked)
        if plan.met:
            data = {"elapsed": 0, **plan.data}
            if params["search_regex"] and params["path"]:
                data.update(_match_groups(ctx, params["path"], params["search_regex"]))
            return ModuleResult(data=data)
        return self.act(ctx, plan)


MODULE = WaitForModule()
