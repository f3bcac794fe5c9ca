"""Liveness, readiness and startup probes: how to run one, and the per-container workers.

:class:`Prober` runs one probe action against a container: ``exec`` through CRI ExecSync
(exit 0 = success), ``httpGet`` to the pod IP from the node (2xx/3xx = success),
``tcpSocket`` (connect = success), ``grpc`` (the health Check answers SERVING,
:mod:`.grpcprobe`). HTTP redirects are followed on the same host only; a redirect elsewhere is
a success with a warning. Every failed probe is an ``Unhealthy`` event and every warning a
``ProbeWarning`` one, as upstream's kubelet records them. :class:`ProbeState` applies successThreshold and
failureThreshold to the stream of outcomes (pure, no I/O). :class:`ProbeWorker` loops
every periodSeconds after initialDelaySeconds and reports result changes through a
callback, so the pod worker re-syncs (restart on liveness failure, Ready toggles on
readiness; a startup probe that fails failureThreshold times is reported as failed once, and
the container restarts as for liveness). Liveness and readiness wait until the startup probe
(if any) has succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from yarl import URL

from kprov.cluster.kubelet.cri.client import CRIError
from kprov.cluster.kubelet.cri.types import ExecResult
from kprov.cluster.kubelet.pods.grpcprobe import check_health

__all__ = [
    "LIVENESS",
    "READINESS",
    "STARTUP",
    "ProbeOutcome",
    "ProbeState",
    "ProbeTarget",
    "ProbeWorker",
    "Prober",
    "probe_settings",
]

LIVENESS = "liveness"
READINESS = "readiness"
STARTUP = "startup"

log = logging.getLogger(__name__)


class ExecRuntime(Protocol):
    async def exec_sync(self, container_id: str, cmd: list[str], timeout_s: int = 0) -> ExecResult: ...


@dataclass(frozen=True)
class ProbeTarget:
    container_id: str
    pod_ip: str
    ports: Mapping[str, int] = field(default_factory=dict)  # named container ports


@dataclass(frozen=True)
class ProbeOutcome:
    ok: bool
    message: str = ""
    warning: bool = False  # a success to report (upstream's probe.Warning): a non-local redirect
    quiet: bool = False  # a failure without an event (the container is no longer running)


@dataclass(frozen=True)
class ProbeSettings:
    initial_delay_s: float
    period_s: float
    timeout_s: float
    success_threshold: int
    failure_threshold: int


def probe_settings(probe: Mapping[str, Any]) -> ProbeSettings:
    return ProbeSettings(
        initial_delay_s=float(probe.get("initialDelaySeconds", 0)),
        period_s=float(probe.get("periodSeconds", 10) or 10),
        timeout_s=float(probe.get("timeoutSeconds", 1) or 1),
        success_threshold=int(probe.get("successThreshold", 1) or 1),
        failure_threshold=int(probe.get("failureThreshold", 3) or 3),
    )


def _port(value: Any, target: ProbeTarget) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if value in target.ports:
        return target.ports[value]
    raise ValueError(f"probe port {value!r} is not a number nor a named port of the container")


class Prober:
    def __init__(self, runtime: ExecRuntime) -> None:
        self.runtime = runtime

    async def run(self, probe: Mapping[str, Any], target: ProbeTarget, timeout_s: float) -> ProbeOutcome:
        try:
            if "exec" in probe:
                return await self._exec(probe["exec"], target, timeout_s)
            if "httpGet" in probe:
                return await self._http(probe["httpGet"], target, timeout_s)
            if "tcpSocket" in probe:
                return await self._tcp(probe["tcpSocket"], target, timeout_s)
            if "grpc" in probe:
                action = probe["grpc"]
                ok, message = await check_health(
                    target.pod_ip, int(action.get("port", 0)), str(action.get("service") or ""), timeout_s
                )
                return ProbeOutcome(ok, message)
        except (TimeoutError, OSError, aiohttp.ClientError, ValueError) as err:
            return ProbeOutcome(False, f"{type(err).__name__}: {err}")
        return ProbeOutcome(False, "probe has no exec, httpGet, tcpSocket or grpc action")

    async def _exec(self, action: Mapping[str, Any], target: ProbeTarget, timeout_s: float) -> ProbeOutcome:
        command = [str(part) for part in action.get("command") or []]
        try:
            result = await self.runtime.exec_sync(target.container_id, command, int(timeout_s))
        except CRIError as err:  # a failed probe, as upstream's prober counts an exec error
            if err.not_found or "CONTAINER_EXITED" in err.details:
                # the container stopped since the last sync: upstream does not probe a container
                # that is not running (a failure, no event) - not an Unhealthy event per period
                return ProbeOutcome(False, "container is not running", quiet=True)
            if err.code == "DEADLINE_EXCEEDED" or "timeout" in str(err):
                return ProbeOutcome(False, f"command {json.dumps(' '.join(command))} timed out")
            return ProbeOutcome(False, str(err))
        if result.exit_code == 0:
            return ProbeOutcome(True)
        output = (result.stdout + result.stderr).decode("utf-8", "replace").strip()
        return ProbeOutcome(False, f"command exited {result.exit_code}: {output[:200]}")

    async def _http(self, action: Mapping[str, Any], target: ProbeTarget, timeout_s: float) -> ProbeOutcome:
        host = action.get("host") or target.pod_ip
        scheme = str(action.get("scheme", "HTTP")).lower()
        path = action.get("path", "/") or "/"
        if not path.startswith("/"):
            path = "/" + path
        url = f"{scheme}://{host}:{_port(action.get('port'), target)}{path}"
        headers = {h["name"]: h["value"] for h in action.get("httpHeaders") or []}
        headers.setdefault("User-Agent", "kube-probe/1.32")
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            return await _follow(session, url, headers)

    async def _tcp(self, action: Mapping[str, Any], target: ProbeTarget, timeout_s: float) -> ProbeOutcome:
        host = action.get("host") or target.pod_ip
        port = _port(action.get("port"), target)
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return ProbeOutcome(True)


_MAX_REDIRECTS = 10  # Go's http.Client
_MAX_BODY = 10 * 1024  # upstream's maxRespBodyLength


async def _follow(session: aiohttp.ClientSession, url: str, headers: Mapping[str, str]) -> ProbeOutcome:
    """GET ``url`` as upstream's HTTP prober: redirects on the same host are followed (ten at
    most), one to another host is not, and answers a success with a warning; 2xx/3xx pass."""
    host = URL(url).host
    for _ in range(_MAX_REDIRECTS + 1):
        async with session.get(url, headers=headers, ssl=False, allow_redirects=False) as resp:
            location = resp.headers.get("Location")
            if 300 <= resp.status < 400 and location:
                target = URL(url).join(URL(location))
                if target.host == host:
                    url = str(target)
                    continue
                body = (await resp.content.read(_MAX_BODY)).decode("utf-8", "replace")
                return ProbeOutcome(True, f"Probe terminated redirects, Response body: {body}", warning=True)
            if 200 <= resp.status < 400:
                return ProbeOutcome(True)
            return ProbeOutcome(False, f"HTTP probe failed with statuscode: {resp.status}")
    return ProbeOutcome(False, f'Get "{url}": stopped after {_MAX_REDIRECTS} redirects')


@dataclass
class ProbeState:
    """Thresholds over outcomes. ``result`` starts at ``initial`` (readiness/startup False,
    liveness True) and flips after enough consecutive opposite outcomes."""

    success_threshold: int
    failure_threshold: int
    result: bool
    successes: int = 0
    failures: int = 0
    last_message: str = ""

    def observe(self, outcome: ProbeOutcome) -> bool:
        """Record an outcome; return True when ``result`` changed."""
        self.last_message = outcome.message
        if outcome.ok:
            self.successes += 1
            self.failures = 0
            if not self.result and self.successes >= self.success_threshold:
                self.result = True
                return True
        else:
            self.failures += 1
            self.successes = 0
            if self.result and self.failures >= self.failure_threshold:
                self.result = False
                return True
            if not self.result and self.failures >= self.failure_threshold:
                return False
        return False


ResultCallback = Callable[[str, bool, str], None]  # (kind, result, message)
EventCallback = Callable[[str, str, str], None]  # (event type, reason, message)


class ProbeWorker:
    """Runs one probe kind for one container until cancelled."""

    def __init__(
        self,
        kind: str,
        probe: Mapping[str, Any],
        target: ProbeTarget,
        prober: Prober,
        on_change: ResultCallback,
        gate: Callable[[], bool] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_event: EventCallback | None = None,
    ) -> None:
        self.kind = kind
        self.probe = probe
        self.target = target
        self.prober = prober
        self.settings = probe_settings(probe)
        initial = kind == LIVENESS
        self.state = ProbeState(self.settings.success_threshold, self.settings.failure_threshold, initial)
        self.on_change = on_change
        self.gate = gate  # e.g. "startup probe has succeeded"
        self._sleep = sleep
        self.on_event = on_event
        self._poked = asyncio.Event()

    def poke(self) -> None:
        """Probe now instead of at the end of the period (its gate just opened: the startup
        probe succeeded, after which upstream's kubelet runs readiness at once)."""
        self._poked.set()

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds`` or until poked."""
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        poked = asyncio.ensure_future(self._poked.wait())
        try:
            await asyncio.wait({sleeper, poked}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            poked.cancel()
            self._poked.clear()

    async def step(self) -> None:
        if self.gate is not None and not self.gate():
            return
        outcome = await self.prober.run(self.probe, self.target, self.settings.timeout_s)
        if self.on_event is not None and (outcome.warning or not outcome.ok) and not outcome.quiet:
            # upstream's events for every failed or warned probe (the recorder aggregates them)
            named = self.kind.capitalize()
            if outcome.warning:
                self.on_event("Warning", "ProbeWarning", f"{named} probe warning: {outcome.message}")
            else:
                self.on_event("Warning", "Unhealthy", f"{named} probe failed: {outcome.message}")
        if self.state.observe(outcome):
            self.on_change(self.kind, self.state.result, outcome.message)
        elif self.kind == STARTUP and self.state.failures == self.settings.failure_threshold:
            self.on_change(STARTUP, False, outcome.message)  # failed for good: the container restarts

    async def run(self) -> None:
        await self._sleep(self.settings.initial_delay_s)
        while True:
            try:
                await self.step()
            except Exception:  # one broken round must not end the container's probing
                log.exception("%s probe of container %s failed to run", self.kind, self.target.container_id)
            if self.kind == STARTUP and self.state.result:
                return  # a startup probe stops once it has succeeded
            await self._pause(self.settings.period_s)
