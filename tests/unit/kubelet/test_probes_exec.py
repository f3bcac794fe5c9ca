from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from kprov.cluster.kubelet.cri.types import ExecResult
from kprov.cluster.kubelet.pods.probes import (
    LIVENESS,
    READINESS,
    STARTUP,
    ProbeOutcome,
    Prober,
    ProbeState,
    ProbeTarget,
    ProbeWorker,
)
from kprov.cluster.kubelet.streaming.execsession import ExecRequest, _interactive, ctr_command, run_exec
from kprov.cluster.streaming import channels as ch


class FakeExec:
    def __init__(self, codes: list[int]) -> None:
        self.codes = codes
        self.calls: list[tuple[str, list[str], int]] = []

    async def exec_sync(self, container_id: str, cmd: list[str], timeout_s: int = 0) -> ExecResult:
        self.calls.append((container_id, cmd, timeout_s))
        code = self.codes.pop(0) if self.codes else 0
        return ExecResult(b"out", b"err" if code else b"", code)


def test_probe_state_thresholds() -> None:
    state = ProbeState(success_threshold=2, failure_threshold=3, result=False)
    assert not state.observe(ProbeOutcome(True))
    assert state.observe(ProbeOutcome(True)) and state.result
    assert not state.observe(ProbeOutcome(False)) and not state.observe(ProbeOutcome(False))
    assert state.observe(ProbeOutcome(False, "boom")) and not state.result and state.last_message == "boom"
    assert not state.observe(ProbeOutcome(True))  # a single success is below successThreshold
    assert state.observe(ProbeOutcome(True)) and state.result


async def test_exec_probe_uses_execsync_with_timeout() -> None:
    runtime = FakeExec([0, 2])
    prober = Prober(runtime)
    probe = {"exec": {"command": ["cat", "/tmp/ok"]}}
    assert (await prober.run(probe, ProbeTarget("c1", "10.0.0.1"), 4)).ok
    failed = await prober.run(probe, ProbeTarget("c1", "10.0.0.1"), 4)
    assert not failed.ok and "exited 2" in failed.message
    assert runtime.calls[0] == ("c1", ["cat", "/tmp/ok"], 4)


async def test_http_and_tcp_probes_against_local_servers() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=200 if request.path == "/healthy" else 503)

    runner = web.AppRunner(web.Application())
    runner.app.router.add_get("/{tail:.*}", handler)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        prober = Prober(FakeExec([]))
        target = ProbeTarget("c", "127.0.0.1", {"http": port})
        assert (await prober.run({"httpGet": {"path": "/healthy", "port": "http"}}, target, 2)).ok
        bad = await prober.run({"httpGet": {"path": "/sick", "port": port}}, target, 2)
        assert not bad.ok and "503" in bad.message
        assert (await prober.run({"tcpSocket": {"port": port}}, target, 2)).ok
    finally:
        await runner.cleanup()
    closed = await Prober(FakeExec([])).run({"tcpSocket": {"port": port}}, ProbeTarget("c", "127.0.0.1"), 1)
    assert not closed.ok


async def test_worker_reports_changes_and_respects_gate() -> None:
    changes: list[tuple[str, bool]] = []
    gate_open = {"v": False}
    runtime = FakeExec([1, 1])
    worker = ProbeWorker(
        LIVENESS,
        {"exec": {"command": ["x"]}, "failureThreshold": 2},
        ProbeTarget("c", "ip"),
        Prober(runtime),
        lambda k, r, m: changes.append((k, r)),
        gate=lambda: gate_open["v"],
    )
    await worker.step()
    assert runtime.calls == []  # gated (startup probe not yet passed)
    gate_open["v"] = True
    await worker.step()
    await worker.step()
    assert changes == [(LIVENESS, False)]
    ready = ProbeWorker(
        READINESS,
        {"exec": {"command": ["x"]}},
        ProbeTarget("c", "ip"),
        Prober(FakeExec([0])),
        lambda k, r, m: changes.append((k, r)),
    )
    assert not ready.state.result
    await ready.step()
    assert changes[-1] == (READINESS, True)


async def test_a_startup_probe_past_its_failure_threshold_reports_the_failure_once() -> None:
    changes: list[tuple[str, bool]] = []
    worker = ProbeWorker(
        STARTUP,
        {"exec": {"command": ["x"]}, "failureThreshold": 2},
        ProbeTarget("c", "ip"),
        Prober(FakeExec([1, 1, 1])),
        lambda k, r, m: changes.append((k, r)),
    )
    await worker.step()
    assert changes == []  # one failure: still starting
    await worker.step()
    await worker.step()
    assert changes == [(STARTUP, False)]  # the kubelet restarts the container on it


async def test_a_poked_worker_probes_at_once_instead_of_after_its_period() -> None:
    changes: list[tuple[str, bool]] = []
    gate_open = {"v": False}
    runtime = FakeExec([0])
    worker = ProbeWorker(
        READINESS,
        {"exec": {"command": ["x"]}, "periodSeconds": 60},
        ProbeTarget("c", "ip"),
        Prober(runtime),
        lambda k, r, m: changes.append((k, r)),
        gate=lambda: gate_open["v"],
    )
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.05)  # first step: gated
        gate_open["v"] = True
        worker.poke()
        for _ in range(100):
            if changes:
                break
            await asyncio.sleep(0.01)
        assert changes == [(READINESS, True)]  # not 60 s later
    finally:
        task.cancel()


async def _no_input() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover


async def test_exec_without_stdin_uses_execsync_and_reports_exit_code() -> None:
    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        sent.append(data)

    req = ExecRequest("c9", ["sh", "-c", "exit 5"], stdin=False, stdout=True, stderr=True, tty=False)
    await run_exec(FakeExec([5]), "ctr", "/run/containerd/containerd.sock", req, _no_input(), send)
    assert sent[0] == b"\x01out" and sent[1] == b"\x02err"
    assert sent[-1][0] == ch.ERROR and b'"message": "5"' in sent[-1]


async def test_interactive_exec_relays_stdin_until_close_and_exit_code() -> None:
    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        sent.append(data)

    async def incoming() -> AsyncIterator[bytes]:
        yield ch.encode(ch.STDIN, b"hello ")
        yield ch.encode(ch.STDIN, b"world\n")
        yield b"\xff\x00"  # stdin closed
        await asyncio.sleep(5)

    req = ExecRequest("c", ["-"], stdin=True, stdout=True, stderr=True, tty=False)
    await asyncio.wait_for(
        _interactive(["sh", "-c", "tr a-z A-Z; echo bye >&2; exit 3"], req, incoming(), send), 10
    )
    stdout = b"".join(m[1:] for m in sent if m[0] == ch.STDOUT)
    stderr = b"".join(m[1:] for m in sent if m[0] == ch.STDERR)
    assert stdout == b"HELLO WORLD\n" and stderr == b"bye\n"
    assert sent[-1][0] == ch.ERROR and b'"message": "3"' in sent[-1]


def test_ctr_command_shape() -> None:
    argv = ctr_command("ctr", "/s.sock", ExecRequest("cid", ["ls", "-l"], True, True, False, True))
    assert argv[:6] == ["ctr", "--address", "/s.sock", "--namespace", "k8s.io", "tasks"]
    assert "--tty" in argv and argv[-3:] == ["cid", "ls", "-l"]


async def test_an_exec_probe_that_times_out_or_errors_is_a_failure_not_a_dead_worker() -> None:
    from kprov.cluster.kubelet.cri.client import CRIError

    class Failing:
        def __init__(self, error: CRIError) -> None:
            self.error = error

        async def exec_sync(self, container_id: str, cmd: list[str], timeout_s: int = 0) -> ExecResult:
            raise self.error

    probe = {"exec": {"command": ["/bin/sh", "-c", "sleep 10"]}}
    timeout = CRIError("ExecSync", "DEADLINE_EXCEEDED", "timeout 1s exceeded: context deadline exceeded")
    timed_out = await Prober(Failing(timeout)).run(probe, ProbeTarget("c1", "10.0.0.1"), 1)
    assert not timed_out.ok and timed_out.message == 'command "/bin/sh -c sleep 10" timed out'
    gone = await Prober(Failing(CRIError("ExecSync", "NOT_FOUND", "no such container"))).run(
        probe, ProbeTarget("c1", "10.0.0.1"), 1)
    assert not gone.ok and gone.quiet  # a container gone since the last sync: no Unhealthy event


async def test_a_container_that_stopped_fails_its_probe_without_an_unhealthy_event() -> None:
    from kprov.cluster.kubelet.cri.client import CRIError

    class Exited:
        async def exec_sync(self, container_id: str, cmd: list[str], timeout_s: int = 0) -> ExecResult:
            raise CRIError("ExecSync", "UNKNOWN",
                           "failed to exec in container: container is in CONTAINER_EXITED state")

    events: list[tuple[str, str, str]] = []
    changes: list[tuple[str, bool, str]] = []
    worker = ProbeWorker(READINESS, {"exec": {"command": ["true"]}, "failureThreshold": 1},
                         ProbeTarget("c1", "10.0.0.1"), Prober(Exited()),
                         lambda kind, ok, message: changes.append((kind, ok, message)),
                         on_event=lambda *event: events.append(event))
    worker.state.result = True
    await worker.step()
    assert events == [] and changes == [(READINESS, False, "container is not running")]
