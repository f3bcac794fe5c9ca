"""Container lifecycle hooks (postStart, preStop) and termination messages.

A hook is a handler: ``exec`` (CRI ExecSync in the container; a non-zero exit is a
failure), ``httpGet`` (from the node to the pod IP or ``host``; as upstream's kubelet, only
a failed request is a failure, not the status code), or ``sleep`` (seconds). postStart runs
right after the container starts and before the kubelet reports it, so a pod is not Ready
until its hooks are done; a failed postStart kills the container (reason
``PostStartHookError``, event ``FailedPostStartHook``) and the restart policy decides what
follows. preStop runs before the stop signal, within the grace period.

Termination messages: every container gets a file of its own from the node bound at its
``terminationMessagePath`` (default /dev/termination-log); when the container has exited,
the kubelet reads at most 4 KiB of it into ``state.terminated.message``, or, with policy
``FallbackToLogsOnError`` and an empty file after a failure, the last 80 lines (2 KiB) of
its log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kprov.cluster.kubelet.pods.probes import Prober, ProbeTarget
from kprov.cluster.kubelet.streaming.logs import read_records, render

__all__ = [
    "DEFAULT_TERMINATION_PATH",
    "HOOK_TIMEOUT_S",
    "run_hook",
    "termination_file",
    "termination_message",
]

DEFAULT_TERMINATION_PATH = "/dev/termination-log"
HOOK_TIMEOUT_S = 30.0
_MAX_MESSAGE = 4096
_FALLBACK_LINES = 80
_FALLBACK_BYTES = 2048

Obj = Mapping[str, Any]


async def run_hook(
    prober: Prober, handler: Obj, target: ProbeTarget, timeout_s: float = HOOK_TIMEOUT_S
) -> str:
    """Run one lifecycle handler; '' on success, else why it failed (upstream's words where they exist)."""
    if "sleep" in handler:
        await asyncio.sleep(max(0, int((handler.get("sleep") or {}).get("seconds", 0))))
        return ""
    if "httpGet" in handler:
        action = dict(handler["httpGet"])
        try:
            outcome = await prober.run({"httpGet": action}, target, timeout_s)
        except Exception as err:  # noqa: BLE001 - any failure of the request is the hook's failure
            return f"HTTP lifecycle hook ({action.get('path', '/')}) for Container failed: {err}"
        if outcome.ok or "statuscode" in outcome.message:
            return ""  # the kubelet only fails an HTTP hook when the request itself fails
        path = action.get("path", "/")
        return f"HTTP lifecycle hook ({path}) for Container failed - error: {outcome.message}"
    if "exec" in handler:
        command = list((handler["exec"] or {}).get("command") or [])
        outcome = await prober.run({"exec": {"command": command}}, target, timeout_s)
        if outcome.ok:
            return ""
        shown = "[" + " ".join(command) + "]"  # as Go prints a []string
        return f"Exec lifecycle hook ({shown}) for Container failed - error: {outcome.message}"
    if "tcpSocket" in handler:
        return "TCPSocket lifecycle hooks are deprecated and not run"  # upstream skips them too
    return "lifecycle hook has no exec, httpGet or sleep action"


def termination_file(pod_dir: Path, container: str, attempt: int) -> Path:
    """The node-side file bound at a container attempt's terminationMessagePath."""
    return pod_dir / "containers" / container / f"{attempt}-termination-log"


def termination_message(container: Obj, message_file: Path, exit_code: int, log_path: str) -> str:
    """What ``state.terminated.message`` shows for an exited container."""
    try:
        with message_file.open("rb") as handle:
            text = handle.read(_MAX_MESSAGE).decode("utf-8", "replace")
    except OSError:
        text = ""
    if text or container.get("terminationMessagePolicy") != "FallbackToLogsOnError" or exit_code == 0:
        return text
    if not log_path or not Path(log_path).exists():
        return ""
    # render: a partial record (the runtime's tag P: output that ended without a newline, as
    # `echo -n DONE`) gets no newline of its own, as upstream's log reader
    lines = render(read_records(Path(log_path))).splitlines(keepends=True)[-_FALLBACK_LINES:]
    joined = b"".join(lines)[-_FALLBACK_BYTES:]
    return joined.decode("utf-8", "replace")
