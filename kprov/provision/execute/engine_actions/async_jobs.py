"""Ansible's ``async``/``poll`` and ``async_status``: a task's work as a job that runs on its host.

A task with ``async: N`` runs its work as a job on the host, detached from the session, and
killed (its whole process group) once it has run N seconds. ``poll: P`` > 0 waits for the job
and the task reports the job's result; ``poll: 0`` ("fire and forget") returns at once with
``ansible_job_id`` (and ``changed``, as Ansible reports every job it starts), and a later
``async_status: jid=...`` task reads the job — in the same run or a later one, as the job
outlives the session (the ``shell: sleep 2 && reboot`` idiom).

Layout, as Ansible's (``ansible_async_dir``, default ``~/.ansible_async``, of the user the
task becomes): ``<dir>/<jid>`` is the job's status as JSON — ``{"started": 1, "finished": 0,
"ansible_job_id": ...}`` while it runs, then ``finished: 1`` with its exit status ``rc`` (or
Ansible's ``Timeout exceeded`` record); the job's stdout and stderr are ``<jid>.out`` and
``<jid>.err`` beside it (a shell job cannot write JSON-escaped text without a tool kprov does
not require on hosts).

Which work runs detached: kprov's modules run on the operator and send the host commands, so
a module joins in by offering ``detach(ctx, args)`` (modules.detached): the one script that
does its work and how that script's output becomes its result, or a finished result when
there is nothing to run. command, shell and apt offer it. Any other
module runs to completion in the task and its result is recorded as a finished job, so
``async_status`` answers the same way: the play's results are real, only the overlap is lost.
The time limit applies to detached jobs only.

The engine's probe cache (what a no-op run reads ahead) is dropped by a job that was started
or read finished after running detached: it changed the host behind the cache. Writing the
record of a module that ran in the task, and removing a job's files, are bookkeeping in the
job directory and leave it.

A job's finishing step (``Detached.finish``) lives in the run (``RunContext.async_finishers``);
``async_status`` of a job started by an earlier run reads it as a command's result (``rc``,
``stdout``, ``stderr``). Check mode (``kprov plan``) starts no job: the module's check-mode
result is kept in the run (``RunContext.planned_jobs``) under the job id it returns, and
``async_status`` of that id answers with it, so a plan of fire-and-forget-then-wait works
while nothing is written to the host.
"""

from __future__ import annotations

import json
import secrets
import shlex
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult
from kprov.provision.modules.commands.detached import Finisher
from kprov.provision.modules.registry import guarded

__all__ = [
    "ASYNC_STATUS_NAMES",
    "DEFAULT_ASYNC_DIR",
    "AsyncStatus",
    "AsyncTask",
    "async_status",
    "command_result",
    "run_async",
]

ASYNC_STATUS_NAMES = frozenset(
    {"async_status", "ansible.builtin.async_status", "ansible.legacy.async_status"})
DEFAULT_ASYNC_DIR = "~/.ansible_async"
_STATUS_SPEC = {"jid": Arg("str", required=True),
                "mode": Arg("str", default="status", choices=("status", "cleanup"))}
# host-side wait for a job: every 0.2 s for the first 2 s (short jobs), then every second
_FAST_POLLS = 10


def command_result(done: CommandResult) -> ModuleResult:
    """A job's result read without its module's finishing step: a command's return values."""
    data = {"rc": done.rc, "stdout": done.stdout, "stderr": done.stderr,
            "stdout_lines": done.stdout.splitlines(), "stderr_lines": done.stderr.splitlines()}
    failed = done.rc != 0
    return ModuleResult(changed=True, failed=failed, msg="non-zero return code" if failed else "", data=data)


def _dir_words(async_dir: str) -> str:
    """The job directory as shell words: a leading ``~`` expands on the host (the job's user)."""
    if async_dir == "~" or async_dir.startswith("~/"):
        return '"$HOME"' + shlex.quote(async_dir[1:]) if len(async_dir) > 1 else '"$HOME"'
    return shlex.quote(async_dir)


def _display_path(async_dir: str, jid: str) -> str:
    return f"{async_dir.rstrip('/')}/{jid}"


# The job, run by setsid (its own session): the work in a session of its own so a time-out
# kills all of it, a watcher that does so after $2 seconds, then the status, written last
# (through a rename: a reader sees the old status or the whole new one).
_JOB = r"""f=$1; limit=$2
setsid sh -c "$3" >"$f.out" 2>"$f.err" </dev/null & work=$!
setsid sh -c 'sleep "$1"; : >"$2.timeout"; kill -TERM -"$3"; sleep 5; kill -KILL -"$3"' \
  watch "$limit" "$f" "$work" >/dev/null 2>&1 </dev/null & watch=$!
wait "$work"; rc=$?
kill -TERM -"$watch" "$watch" 2>/dev/null  # its group (the watcher, its sleep), or itself before its setsid
if [ -e "$f.timeout" ]; then
  printf '{"failed": true, "finished": 1, "msg": "Timeout exceeded", "child_pid": %d, ' "$work" >"$f.tmp"
  printf '"ansible_job_id": "%s"}\n' "${f##*/}" >>"$f.tmp"
else
  printf '{"started": 1, "finished": 1, "ansible_job_id": "%s", "rc": %d}\n' "${f##*/}" "$rc" >"$f.tmp"
fi
mv -f "$f.tmp" "$f"
"""


def _launcher(script: str, limit: int, async_dir: str) -> str:
    """Start the job detached (no descriptor of the session kept open) and print its jid."""
    prefix = f"j{secrets.randbelow(10**12)}"
    return "\n".join([
        "umask 077",
        f"d={_dir_words(async_dir)}",
        'mkdir -p "$d" || exit 1',
        f'j={prefix}.$$; f="$d/$j"',
        """printf '{"started": 1, "finished": 0, "ansible_job_id": "%s"}\\n' "$j" >"$f"|| exit 1""",
        f'setsid sh -c {shlex.quote(_JOB)} job "$f" {int(limit)} {shlex.quote(script)} '
        ">/dev/null 2>&1 </dev/null &",
        'echo "$j"',
    ])


def _wait_script(path_words: str, limit: int) -> str:
    """Wait on the host (one round trip) until the job's status says finished; the job's own
    watcher ends it by the time limit, so the wait is bounded too."""
    return "\n".join([
        f"f={path_words}; n=0",
        f"end=$(( $(date +%s) + {int(limit) + 15} ))",
        "while :; do",
        '  s=; read -r s <"$f" 2>/dev/null',
        '  case $s in *\'"finished": 1\'*) exit 0;; esac',
        '  [ "$(date +%s)" -ge "$end" ] && exit 3',
        f'  n=$((n + 1)); if [ "$n" -le {_FAST_POLLS} ]; then sleep 0.2; else sleep 1; fi',
        "done",
    ])


def _read_script(path_words: str, token: str) -> str:
    return "\n".join([
        f"f={path_words}",
        f'[ -e "$f" ] || {{ echo {token}:missing; exit 0; }}',
        f'cat "$f"; echo; echo {token}; cat "$f.out" 2>/dev/null',
        f'echo; echo {token}; cat "$f.err" 2>/dev/null; exit 0',
    ])


def _cleanup_script(path_words: str) -> str:
    return f'f={path_words}; rm -f "$f" "$f.out" "$f.err" "$f.timeout" "$f.tmp"'


def _job_path_words(jid: str, async_dir: str) -> tuple[str, str]:
    """(shell words, display path) of a job's status file; ``jid`` may be that path itself."""
    if "/" in jid:
        return shlex.quote(jid), jid
    return f"{_dir_words(async_dir)}/{shlex.quote(jid)}", _display_path(async_dir, jid)


def _strip_added_newline(text: str) -> str:
    return text[:-1] if text.endswith("\n") else text


def _read_job(ctx: ModuleContext, words: str) -> tuple[dict[str, Any], CommandResult] | None:
    token = f"kprov-job-{secrets.token_hex(6)}"
    got = ctx.read(_read_script(words, token))
    if got.rc != 0:
        raise ModuleFailed(f"async_status: cannot read the job: {got.stderr.strip()}")
    if got.stdout.startswith(f"{token}:missing"):
        return None
    parts = got.stdout.split(f"\n{token}\n")
    if len(parts) != 3:
        raise ModuleFailed("async_status: the job's files could not be read as written")
    status_text, out, err = parts
    try:
        status = json.loads(status_text) if status_text.strip() else {}
    except json.JSONDecodeError:
        status = {"_unparsed": status_text}
    rc = status.get("rc", 0) if isinstance(status, dict) else 0
    err = _strip_added_newline(err)
    return status, CommandResult(int(rc) if isinstance(rc, int) else 0, _strip_added_newline(out), err)


def _job_result(jid: str, display: str, status: dict[str, Any], done: CommandResult,
                finish: Finisher | None) -> ModuleResult:
    """A read job as async_status reports it."""
    base = {"ansible_job_id": jid, "results_file": display, "started": 1}
    if "_unparsed" in status:
        return ModuleResult(failed=True, msg=f"Could not parse job output: {status['_unparsed']}",
                            data={**base, "finished": 1})
    if int(status.get("finished", 0) or 0) != 1:
        return ModuleResult(data={**base, "finished": 0, "stdout": "", "stderr": "",
                                  "stdout_lines": [], "stderr_lines": []})
    if "result" in status:  # a module that ran in the task: its result, recorded
        registered = dict(status["result"])
        result = ModuleResult(changed=bool(registered.pop("changed", False)),
                              failed=bool(registered.pop("failed", False)),
                              skipped=bool(registered.pop("skipped", False)),
                              msg=str(registered.pop("msg", "") or ""),
                              diff=list(registered.pop("diff", []) or []), data=registered)
    elif status.get("msg") == "Timeout exceeded":
        result = ModuleResult(failed=True, msg="Timeout exceeded",
                              data={"child_pid": status.get("child_pid")})
    else:
        try:
            result = (finish or command_result)(done)
        except ModuleFailed as err:
            result = ModuleResult(failed=True, msg=str(err), data=dict(err.data))
    result.data.update(base, finished=1)
    return result


def _record_finished(ctx: ModuleContext, result: ModuleResult, async_dir: str) -> ModuleResult:
    """A module that ran in the task: write its result as a finished job; the task reports
    the job as Ansible's fire-and-forget does."""
    jid = f"j{secrets.randbelow(10**12)}.0"
    record = {"started": 1, "finished": 1, "ansible_job_id": jid, "result": result.as_registered()}
    directory = _dir_words(async_dir)
    done = ctx.run(f"umask 077; mkdir -p {directory} && cat >{directory}/{jid}",
                   stdin=(json.dumps(record) + "\n").encode())
    if done.rc != 0:
        raise ModuleFailed(f"async: cannot write the job's record: {done.stderr.strip()}")
    return ModuleResult(changed=True, data={"ansible_job_id": jid, "started": 1, "finished": 1,
                                            "results_file": _display_path(async_dir, jid)})


def _planned(result: ModuleResult, async_dir: str,
             planned: MutableMapping[str, ModuleResult]) -> ModuleResult:
    """Check mode's fire-and-forget: the module's check-mode result kept in the run under a
    job id, nothing written to the host; ``async_status`` of that id answers with it."""
    jid = f"j{secrets.randbelow(10**12)}.0"
    planned[jid] = result
    return ModuleResult(changed=True, data={"ansible_job_id": jid, "started": 1, "finished": 0,
                                            "results_file": _display_path(async_dir, jid)})


def run_async(module: Any, ctx: ModuleContext, args: Mapping[str, Any], *, limit: int, poll: int,
              async_dir: str, finishers: MutableMapping[str, Finisher],
              planned: MutableMapping[str, ModuleResult]) -> ModuleResult:
    """Run a module's task as an async job (see the module docstring)."""
    detach = getattr(module, "detach", None)
    work = detach(ctx, args) if detach is not None and not ctx.check_mode else module.run(ctx, args)
    if isinstance(work, ModuleResult):
        if poll > 0:
            return work
        if ctx.check_mode:
            return _planned(work, async_dir, planned)
        acted = ctx.acted or work.changed  # the record is the engine's, not a change of the host
        recorded = _record_finished(ctx, work, async_dir)
        ctx.acted = acted
        return recorded
    started = ctx.run(_launcher(work.script, limit, async_dir))
    jid = started.stdout.strip()
    if started.rc != 0 or not jid:
        said = started.stderr.strip() or started.stdout.strip()
        raise ModuleFailed(f"async: the job did not start: {said}")
    words, display = _job_path_words(jid, async_dir)
    if poll <= 0:
        finishers[jid] = work.finish
        return ModuleResult(changed=True, data={"ansible_job_id": jid, "started": 1, "finished": 0,
                                                "results_file": display})
    waited = ctx.read(_wait_script(words, limit), timeout=limit + 60)
    read = _read_job(ctx, words)
    if waited.rc != 0 or read is None:
        msg = f"async task did not complete within the requested time - {limit}s"
        return ModuleResult(failed=True, msg=msg, data={"ansible_job_id": jid, "results_file": display})
    status, done = read
    if status.get("msg") == "Timeout exceeded":  # the job's watcher ended it at the limit
        msg = f"async task did not complete within the requested time - {limit}s"
        return ModuleResult(failed=True, msg=msg, data={
            "ansible_job_id": jid, "results_file": display,
            "async_result": {**status, "ansible_job_id": jid, "finished": 1}})
    result = _job_result(jid, display, status, done, work.finish)
    ctx.run(_cleanup_script(words))
    return result


def async_status(ctx: ModuleContext, args: Mapping[str, Any], *, async_dir: str,
                 finishers: Mapping[str, Finisher], planned: Mapping[str, ModuleResult]) -> ModuleResult:
    """The ``async_status`` module: a job's status, or (``mode: cleanup``) its files removed."""
    p = parse_args("async_status", _STATUS_SPEC, args)
    jid = str(p["jid"])
    words, display = _job_path_words(jid, async_dir)
    kept = planned.get(jid.rsplit("/", 1)[-1])
    if kept is not None:  # a job check mode did not start: its check-mode result
        data = {**kept.data, "ansible_job_id": jid, "results_file": display, "started": 1, "finished": 1}
        if p["mode"] == "cleanup":
            return ModuleResult(data={"ansible_job_id": jid, "erased": display, "started": 0, "finished": 0})
        return ModuleResult(changed=kept.changed, failed=kept.failed, skipped=kept.skipped, msg=kept.msg,
                            diff=list(kept.diff), data=data)
    if p["mode"] == "cleanup":
        acted = ctx.acted  # a job's files are the engine's bookkeeping, not a change of the host
        done = ctx.run(f'[ -e {words} ] || {{ echo missing; exit 0; }}; {_cleanup_script(words)}')
        ctx.acted = acted
        if done.stdout.strip() == "missing":
            return ModuleResult(failed=True, msg="could not find job",
                                data={"ansible_job_id": jid, "started": 1, "finished": 1})
        return ModuleResult(data={"ansible_job_id": jid, "erased": display, "started": 0, "finished": 0})
    read = _read_job(ctx, words)
    if read is None:
        return ModuleResult(failed=True, msg="could not find job",
                            data={"ansible_job_id": jid, "started": 1, "finished": 1})
    name = jid.rsplit("/", 1)[-1]
    status = read[0]
    if int(status.get("finished", 0) or 0) == 1 and "result" not in status:
        ctx.acted = True  # a detached job changed the host behind the engine's probe cache
    return _job_result(name, display, status, read[1], finishers.get(name))


@dataclass(frozen=True)
class AsyncTask:
    """A module as an ``async`` task runs it (the engine's module interface: ``run``)."""

    changes_judged_by_task: ClassVar[bool] = False  # Ansible reports the job, not the command
    module: Any
    limit: int
    poll: int
    async_dir: str
    finishers: MutableMapping[str, Finisher]
    planned: MutableMapping[str, ModuleResult]

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        return guarded(lambda: run_async(self.module, ctx, args, limit=self.limit, poll=self.poll,
                                         async_dir=self.async_dir, finishers=self.finishers,
                                         planned=self.planned))


@dataclass(frozen=True)
class AsyncStatus:
    """The ``async_status`` module, with the run's finishing steps."""

    changes_judged_by_task: ClassVar[bool] = False

    async_dir: str
    finishers: Mapping[str, Finisher]
    planned: Mapping[str, ModuleResult]

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        return guarded(lambda: async_status(ctx, args, async_dir=self.async_dir, finishers=self.finishers,
                                            planned=self.planned))
