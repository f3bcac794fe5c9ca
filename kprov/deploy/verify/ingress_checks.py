"""Ingress checks: every worker's ingress answers from outside the cluster.

From the machine running ``kprov verify`` (outside the cluster), one plain HTTP request per
worker to its Ingress port with a Host no Ingress can name (``.invalid`` is reserved):
kprov-ingress's HAProxy answers ``404 page not found`` (:func:`judge_reply`, pure). Any
other answer, or none, fails the row with what came back. Workers whose inventory turns
the Ingress controller off (``ingress_enabled: false``) are left out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp

from kprov.deploy.verify.report import Check

__all__ = ["UNKNOWN_HOST", "check_ingress", "judge_reply"]

UNKNOWN_HOST = "kprov-verify.invalid"
_NOT_FOUND = "404 page not found"


def judge_reply(worker: str, url: str, status: int | None, body: str) -> Check:
    name = f"Ingress on {worker} answers from outside ({url})"
    if status is None:
        return Check("cluster", name, False, body[:200] or "no answer")
    if status == 404 and body.strip() == _NOT_FOUND:
        return Check("cluster", name, True, f"404 for Host {UNKNOWN_HOST}")
    return Check("cluster", name, False, f"HTTP {status} for Host {UNKNOWN_HOST}: {body.strip()[:120]}")


def _enabled(host_vars: Mapping[str, Any]) -> bool:
    return str(host_vars.get("ingress_enabled", True)).lower() not in ("false", "no", "0")


async def _ask(session: aiohttp.ClientSession, worker: str, url: str) -> Check:
    try:
        async with session.get(url, headers={"Host": UNKNOWN_HOST},
                               timeout=aiohttp.ClientTimeout(total=5)) as reply:
            return judge_reply(worker, url, reply.status, await reply.text())
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return judge_reply(worker, url, None, str(exc) or type(exc).__name__)


async def check_ingress(workers: list[str], host_vars: Mapping[str, Mapping[str, Any]]) -> list[Check]:
    """One row per worker running the Ingress controller, asked all at once."""
    chosen = [w for w in workers if _enabled(host_vars.get(w, {}))]
    if not chosen:
        return []
    urls = {w: f"http://{host_vars[w].get('ansible_host', w)}:{host_vars[w].get('ingress_http_port', 80)}/"
            for w in chosen}
    async with aiohttp.ClientSession() as session:
        return list(await asyncio.gather(*(_ask(session, w, urls[w]) for w in chosen)))
