"""Gateway checks: every Gateway of kprov's class is Programmed and answers from outside.

The Gateways whose GatewayClass names kprov's controller (the inventory's
``gateway_controller_name``, the role's default otherwise) are listed through the API. Per
Gateway one row: ``Programmed`` True. Per listener and address of ``status.addresses``, one
row: from the machine running ``kprov verify`` (outside the cluster), a request to the
address on the listener's port with a Host no route can name (``.invalid`` is reserved)
must get HAProxy's ``404 page not found`` (plain HTTP, or TLS without checking the
certificate for HTTPS listeners). A listener whose own status is not Programmed fails its
rows with its reason, without a request. Every failed row says what was seen and what to
look at. With the Gateway API turned off (``gateway_controller_name: ""``) or its CRDs
absent there are no rows, as the Ingress rows are left out without workers; with it on and
no Gateway, one passing row says so.

The judging (:func:`gateway_probes`, :func:`judge_programmed`, :func:`judge_answer`) is
pure; :func:`check_gateways` does the listing and the requests (all at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from kprov.cluster.client import ApiClient, ApiError
from kprov.cluster.ingress.gateway.crds import GATEWAY_CLASSES, GATEWAYS
from kprov.deploy.verify.ingress_checks import UNKNOWN_HOST
from kprov.deploy.verify.report import Check

__all__ = [
    "DEFAULT_CONTROLLER",
    "ListenerProbe",
    "check_gateways",
    "gateway_probes",
    "judge_answer",
    "judge_programmed",
    "ours",
]

DEFAULT_CONTROLLER = "kprov.io/gateway-controller"  # roles/ingress_controller's default
_NOT_FOUND = "404 page not found"
_SCHEMES = {"HTTP": "http", "HTTPS": "https"}

Obj = dict[str, Any]


@dataclass(frozen=True)
class ListenerProbe:
    """One listener of one Gateway at one of its addresses; ``refused``: why not to ask."""

    gateway: str  # namespace/name
    listener: str
    protocol: str
    address: str
    port: int
    refused: str = ""

    @property
    def url(self) -> str:
        return f"{_SCHEMES.get(self.protocol, 'http')}://{_host(self.address)}:{self.port}/"

    @property
    def name(self) -> str:
        return f"Gateway {self.gateway} listener {self.listener} answers from outside ({self.url})"


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _condition(obj: Obj, kind: str) -> Obj | None:
    conditions = (obj.get("status") or obj).get("conditions") or []
    return next((c for c in conditions if c.get("type") == kind), None)


def ours(gateways: list[Obj], classes: list[Obj], controller: str) -> list[Obj]:
    """The Gateways whose class names ``controller``, by namespace and name."""
    names = {(c.get("metadata") or {}).get("name") for c in classes
             if (c.get("spec") or {}).get("controllerName") == controller}
    return sorted((g for g in gateways if (g.get("spec") or {}).get("gatewayClassName") in names), key=_key)


def judge_programmed(gateway: Obj) -> Check:
    key = _key(gateway)
    cond = _condition(gateway, "Programmed")
    if cond is not None and cond.get("status") == "True":
        status = gateway.get("status") or {}
        addresses = ", ".join(a.get("value", "") for a in status.get("addresses") or [])
        return Check("cluster", f"Gateway {key} Programmed", True, f"addresses {addresses or 'none'}")
    seen = (f"Programmed={cond.get('status')} {cond.get('reason', '')}: {cond.get('message', '')}"
            if cond else "no Programmed condition (has kprov-ingress seen it?)")
    return Check("cluster", f"Gateway {key} Programmed", False,
                 f"{seen}; see `kubectl describe gateway -n {key.replace('/', ' ')}` and "
                 "`systemctl status kprov-ingress` on the workers")


def gateway_probes(gateway: Obj) -> list[ListenerProbe]:
    """One probe per listener × status address; none when the Gateway has no address."""
    key = _key(gateway)
    status = gateway.get("status") or {}
    addresses = [str(a.get("value")) for a in status.get("addresses") or [] if a.get("value")]
    listener_status = {s.get("name"): s for s in status.get("listeners") or []}
    probes = []
    for listener in (gateway.get("spec") or {}).get("listeners") or []:
        name = str(listener.get("name", ""))
        protocol = str(listener.get("protocol", ""))
        refused = ""
        cond = _condition(listener_status.get(name) or {}, "Programmed")
        if cond is None or cond.get("status") != "True":
            refused = (f"listener not Programmed ({cond.get('reason', '')}: {cond.get('message', '')})"
                       if cond else "listener has no Programmed status")
        elif protocol not in _SCHEMES:
            refused = f"protocol {protocol} is not HTTP or HTTPS"
        port = int(listener.get("port", 0))
        probes += [ListenerProbe(key, name, protocol, a, port, refused) for a in addresses]
    return probes


def judge_answer(probe: ListenerProbe, status: int | None, body: str, worker: str | None) -> Check:
    """The row for one probe: ``status`` None when nothing answered (``body`` says why)."""
    if probe.refused:
        return Check("cluster", probe.name, False,
                     f"{probe.refused}; see `kubectl describe gateway -n {probe.gateway.replace('/', ' ')}`")
    if status == 404 and body.strip() == _NOT_FOUND:
        return Check("cluster", probe.name, True, f"404 for Host {UNKNOWN_HOST}")
    where = f"worker {worker} ({probe.address})" if worker else probe.address
    if status is None:
        seen = f"no answer: {body.strip()[:160] or 'nothing'}"
    else:
        seen = f"HTTP {status} for Host {UNKNOWN_HOST} (wanted 404 from kprov-ingress): {body.strip()[:120]}"
    return Check("cluster", probe.name, False,
                 f"{seen}; check that kprov-ingress runs on {where} (`systemctl status kprov-ingress`) and "
                 f"that nothing between this machine and it blocks port {probe.port}")


def _controller(host_vars: Mapping[str, Mapping[str, Any]], workers: list[str]) -> str:
    first = host_vars.get(workers[0], {}) if workers else {}
    return str(first.get("gateway_controller_name", DEFAULT_CONTROLLER) or "")


async def _ask(session: aiohttp.ClientSession, probe: ListenerProbe, worker: str | None) -> Check:
    if probe.refused:
        return judge_answer(probe, None, "", worker)
    try:
        async with session.get(probe.url, headers={"Host": UNKNOWN_HOST}, ssl=False, allow_redirects=False,
                               timeout=aiohttp.ClientTimeout(total=5)) as reply:
            return judge_answer(probe, reply.status, await reply.text(), worker)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return judge_answer(probe, None, str(exc) or type(exc).__name__, worker)


async def check_gateways(client: ApiClient, workers: list[str],
                         host_vars: Mapping[str, Mapping[str, Any]]) -> list[Check]:
    """The rows for the Gateways of kprov's class (see the module's docstring)."""
    controller = _controller(host_vars, workers)
    if not controller or not workers:
        return []
    try:
        classes, _ = await client.list_all(GATEWAY_CLASSES)
        gateways, _ = await client.list_all(GATEWAYS)
    except ApiError as exc:
        if exc.code == 404:  # no Gateway API CRDs: nothing to check
            return []
        return [Check("cluster", "list Gateways", False, str(exc)[:300])]
    chosen = ours(gateways, classes, controller)
    if not chosen:
        return [Check("cluster", "Gateways answer from outside", True,
                      f"no Gateway of a class of {controller}")]
    worker_of = {str(host_vars.get(w, {}).get("ansible_host", w)): w for w in workers}
    checks = [judge_programmed(g) for g in chosen]
    probes = [p for g in chosen for p in gateway_probes(g)]
    async with aiohttp.ClientSession() as session:
        checks += await asyncio.gather(*(_ask(session, p, worker_of.get(p.address)) for p in probes))
    return checks
