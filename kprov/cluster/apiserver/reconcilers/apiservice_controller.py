"""APIServices kept in step with what is served: kube-apiserver's autoregister and
availability controllers, run inside every API server.

Design: one loop per server (:class:`APIServiceController`), every
``apiservice_check_interval_s``:

1. *Autoregistration*: every group/version this server serves itself gets a local
   APIService (``spec.service`` null) named ``<version>.<group>``, with upstream's group and
   version priorities for the built-in groups (label
   ``kube-aggregator.kubernetes.io/automanaged: onstart``) and 1000/100 for a
   CustomResourceDefinition's group/versions (label ``true``); an automanaged ``true`` one
   whose CRD version is no longer served is deleted. Servers racing on the same object get
   conflicts, which the next round settles.
2. *Availability*: a local APIService is Available (reason Local). A remote one is checked
   as upstream's remote availability controller does: its Service exists
   (ServiceNotFound), has the port (ServicePortError), EndpointSlices (EndpointsNotFound)
   with a ready address on that port (MissingEndpoints), and the backend answers a GET of
   ``/apis/<group>/<version>`` within 5 s with a 2xx (FailedDiscoveryCheck, the error as
   upstream words it), sent as ``system:kube-aggregator`` in system:masters with the
   front-proxy certificate, certificate not checked; else Passed. That answer, an
   APIResourceList, is kept for the merged discovery
   (:attr:`kprov.cluster.apiserver.aggregation.registry.Aggregation.discovery`). The status
   is written only when it changed.
3. *OpenAPI v3*: a passing remote APIService's ``/openapi/v3/apis/<group>/<version>`` is
   fetched when this server holds none for it, then refreshed once a minute with the ETag
   it came with (a 304 keeps it), as upstream's OpenAPI v3 aggregation controller does:
   the availability check runs every interval, the document need not.

Every API server keeps its own documents, and a client's requests may reach any of them
(the load balancer in front of an HA control plane). So a discovery request does not wait
for the next round: :meth:`APIServiceController.fill_discovery` checks at once each remote
APIService that has ready endpoints but no document here, nor a failed check in the last
interval (so a dead backend costs discovery nothing), waiting at most
``_ON_DEMAND_WAIT_S``; concurrent requests share one check per APIService. Without it a
group registered a moment ago was in /apis on one server and absent on the next (the
conformance Aggregator test failed so in CI).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import Any

import aiohttp
import orjson

from kprov.cluster.api.kinds.apiregistration import (
    AUTOMANAGED_LABEL,
    GROUP,
    apiservice_name,
    service_ref,
    set_available,
)
from kprov.cluster.api.objects import now_rfc3339
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.aggregation.registry import Aggregation, Unresolvable
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers import deletion, writes
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.status import ApiError
from kprov.cluster.background import stop_requested, stop_tasks

__all__ = ["BUILTIN_PRIORITIES", "APIServiceController", "desired_local"]

_log = logging.getLogger(__name__)

# (group, version) -> (groupPriorityMinimum, versionPriority): upstream's table for the groups
# kprov serves
BUILTIN_PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("apiregistration.k8s.io", "v1"): (18000, 15),
    ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("autoscaling", "v1"): (17500, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("batch", "v1"): (17400, 15),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1beta1"): (16700, 12),  # with --runtime-config only
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
    ("flowcontrol.apiserver.k8s.io", "v1beta3"): (16100, 18),  # (v1.31's; removed in v1.32)
}
_CRD_PRIORITIES = (1000, 100)
_CHECK_TIMEOUT_S = 5.0
_OPENAPI_REFRESH_S = 60.0  # upstream's successful-update delay for aggregated OpenAPI
_ON_DEMAND_WAIT_S = 2.0
_CHECKER = UserInfo("system:kube-aggregator", ("system:masters",))


def desired_local(infos: list[ResourceInfo] | tuple[ResourceInfo, ...]) -> dict[str, dict[str, Any]]:
    """name -> the local APIService kube-apiserver would keep for these served resources."""
    wanted: dict[str, dict[str, Any]] = {}
    for info in infos:
        name = apiservice_name(info.group, info.version)
        if name in wanted:
            continue
        priorities = BUILTIN_PRIORITIES.get((info.group, info.version))
        if priorities is not None and info.custom is None:
            label = "onstart"
        elif info.custom is not None:
            priorities, label = _CRD_PRIORITIES, "true"
        else:
            continue  # upstream registers no group it has no priority for
        wanted[name] = {
            "apiVersion": f"{GROUP}/v1",
            "kind": "APIService",
            "metadata": {"name": name, "labels": {AUTOMANAGED_LABEL: label}},
            "spec": {
                "group": info.group,
                "version": info.version,
                "groupPriorityMinimum": priorities[0],
                "versionPriority": priorities[1],
                "service": None,
            },
        }
    return wanted


class APIServiceController:
    def __init__(self, ctx: ApiContext, aggregation: Aggregation) -> None:
        self._ctx = ctx
        self._aggregation = aggregation
        info = ctx.registry.get(GROUP, "v1", "apiservices")
        assert info is not None
        self._info = info
        self._task: asyncio.Task[None] | None = None
        self._first = True
        self.registered = False
        self._checking: dict[str, asyncio.Task[None]] = {}  # on-demand checks in flight
        self._failed_at: dict[str, float] = {}  # APIService name -> monotonic time of a failed check
        # APIService name -> (monotonic time of the last OpenAPI fetch, the ETag it answered)
        self._openapi_fetched: dict[str, tuple[float, str | None]] = {}

    async def start(self) -> None:
        """Register and mark the local APIServices before serving (as kube-apiserver's
        autoregister-completion check waits for them); remote ones are checked by the loop,
        so a dead backend never delays start-up."""
        try:
            await self._autoregister()
            for obj in self._aggregation.apiservices():
                if service_ref(obj) is None:
                    await self._check(obj)
        except Exception as exc:  # etcd slow: the loop tries again
            _log.warning("apiservices: %r", exc)
        self._task = asyncio.create_task(self._run(), name="apiservices")

    async def stop(self) -> None:
        await stop_tasks(self._task, *self._checking.values())
        await self._aggregation.close()

    async def _run(self) -> None:
        interval = self._ctx.config.apiservice_check_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sync_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if stop_requested():  # (a cancellation that came back as another error)
                    raise asyncio.CancelledError from exc
                _log.exception("apiservices: a round failed")
            if stop_requested():  # cancelled, the CancelledError lost on the way
                return

    async def sync_once(self) -> None:
        await self._autoregister()
        existing = self._aggregation.apiservices()
        live = [obj for obj in existing if not obj["metadata"].get("deletionTimestamp")]
        await asyncio.gather(*(self._check(obj) for obj in live))
        names = {obj["metadata"]["name"] for obj in existing}
        for gone in (set(self._aggregation.discovery) | set(self._aggregation.openapi)) - names:
            self._aggregation.forget(gone)
        for gone in set(self._failed_at) - names:
            self._failed_at.pop(gone, None)
        for gone in set(self._openapi_fetched) - names:
            self._openapi_fetched.pop(gone, None)

    async def fill_discovery(self) -> None:
        """Check now the remote APIServices this server holds no document for, that have a
        ready endpoint and did not fail a check within the last interval."""
        interval = self._ctx.config.apiservice_check_interval_s
        now = time.monotonic()
        waits = []
        for obj in self._aggregation.apiservices():
            name = obj["metadata"]["name"]
            ref = service_ref(obj)
            if ref is None or name in self._aggregation.discovery or obj["metadata"].get("deletionTimestamp"):
                continue
            if now - self._failed_at.get(name, -interval) < interval:
                continue
            try:
                self._aggregation.resolve(ref)
            except Unresolvable:
                continue
            task = self._checking.get(name)
            if task is None:
                task = self._checking[name] = asyncio.create_task(self._check(obj), name=f"apiservice {name}")
                task.add_done_callback(functools.partial(self._checked, name))
            waits.append(task)
        if waits:
            await asyncio.wait(waits, timeout=_ON_DEMAND_WAIT_S)

    def _checked(self, name: str, task: asyncio.Task[None]) -> None:
        self._checking.pop(name, None)
        if not task.cancelled() and task.exception() is not None:
            _log.warning("apiservice %s: on-demand check: %r", name, task.exception())

    # -- autoregistration ------------------------------------------------------------------
    async def _autoregister(self) -> None:
        wanted = desired_local(self._ctx.registry.all())
        current = {o["metadata"]["name"]: o for o in self._aggregation.apiservices()}
        for name, desired in wanted.items():
            have = current.get(name)
            try:
                if have is None:
                    await writes.create_object(self._ctx, None, self._info, "", desired)
                elif _automanaged(have) and have.get("spec") != desired["spec"]:
                    mutate = _with_spec(desired["spec"])
                    await writes.guaranteed_update(self._ctx, self._info, "", name, mutate)
            except ApiError as exc:
                if exc.code not in (409,):
                    _log.warning("apiservice %s: %s", name, exc)
        for name, have in current.items():
            label = ((have.get("metadata") or {}).get("labels") or {}).get(AUTOMANAGED_LABEL)
            stale = name not in wanted and (label == "true" or (label == "onstart" and self._first))
            if stale:
                with contextlib.suppress(ApiError):
                    await deletion.delete_object(self._ctx, self._info, "", name, {})
        self._first = False
        self.registered = True  # the first autoregistration is done (/healthz's autoregister-completion)

    # -- availability ----------------------------------------------------------------------
    async def _check(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        ref = service_ref(obj)
        if ref is None:
            await self._set(name, "True", "Local", "Local APIServices are always available")
            return
        try:
            endpoint = self._aggregation.resolve(ref)
        except Unresolvable as exc:
            self._aggregation.forget(name)
            self._failed_at[name] = time.monotonic()
            await self._set(name, "False", exc.reason, exc.message)
            return
        spec = obj.get("spec") or {}
        path = f"/apis/{spec.get('group')}/{spec.get('version')}" if name != "v1." else "/api/v1"
        host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
        base = f"https://{host}:{endpoint.port}"
        url = base + path
        try:
            status, _, body = await self._backend_get(obj, url)
            if not 200 <= status < 300:
                raise ConnectionError(f"bad status from {url}: {status}")
        except (aiohttp.ClientError, OSError, TimeoutError, ConnectionError) as exc:
            self._aggregation.forget(name)
            self._failed_at[name] = time.monotonic()
            if isinstance(exc, TimeoutError):
                cause = f'Get "{url}": context deadline exceeded'
            elif str(exc).startswith("bad status"):
                cause = str(exc)
            else:
                cause = f'Get "{url}": {exc}'
            message = f"failing or missing response from {url}: {cause}"
            await self._set(name, "False", "FailedDiscoveryCheck", message)
            return
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            document = None
        self._failed_at.pop(name, None)
        if isinstance(document, dict):
            self._aggregation.discovery[name] = (str(obj["metadata"].get("resourceVersion", "")), document)
        await self._refresh_openapi(obj, base)
        await self._set(name, "True", "Passed", "all checks passed")

    async def _backend_get(self, obj: dict[str, Any], url: str,
                           extra: tuple[tuple[str, str], ...] = ()) -> tuple[int, Any, bytes]:
        """GET ``url`` from an APIService's backend as the aggregator's checker (front-proxy
        identity headers, its certificate not checked, 5 s): status, headers, body."""
        headers = [("X-Remote-User", _CHECKER.name)] + [("X-Remote-Group", g) for g in _CHECKER.groups]
        headers += [("Accept", "application/json"), *extra]
        async with self._aggregation.session().get(
            url, headers=headers, ssl=self._aggregation.ssl_context(obj, verify=False),
            timeout=aiohttp.ClientTimeout(total=_CHECK_TIMEOUT_S), allow_redirects=False,
        ) as reply:
            return reply.status, reply.headers, await reply.read()

    async def _refresh_openapi(self, obj: dict[str, Any], base: str) -> None:
        """The backend's OpenAPI v3 document for its group/version, kept for /openapi/v3 (as
        upstream's OpenAPI v3 aggregation controller merges them): fetched when none is held,
        else at most once a minute, conditionally. A backend without one, or failing to give
        it, is simply not published (its availability does not depend on it)."""
        name = obj["metadata"]["name"]
        held = name in self._aggregation.openapi
        fetched_at, etag = self._openapi_fetched.get(name, (0.0, None))
        now = time.monotonic()
        if held and now - fetched_at < _OPENAPI_REFRESH_S:
            return
        spec = obj.get("spec") or {}
        path = f"apis/{spec.get('group')}/{spec.get('version')}"
        conditional = (("If-None-Match", etag),) if held and etag else ()
        try:
            status, headers, body = await self._backend_get(obj, f"{base}/openapi/v3/{path}", conditional)
            if status == 304 and held:
                self._openapi_fetched[name] = (now, etag)
                return
            published = status == 200 and isinstance(orjson.loads(body), dict)
        except (aiohttp.ClientError, OSError, TimeoutError, orjson.JSONDecodeError):
            published = False
        if published:
            self._aggregation.openapi[name] = (path, body)
            self._openapi_fetched[name] = (now, headers.get("ETag"))
        else:
            self._aggregation.openapi.pop(name, None)
            self._openapi_fetched.pop(name, None)

    async def _set(self, name: str, status: str, reason: str, message: str) -> None:
        cached = self._aggregation.apiservice_by_name(name)
        if cached is not None and not _differs(cached, status, reason, message):
            return
        now = now_rfc3339()

        def mutate(obj: dict[str, Any]) -> dict[str, Any]:
            set_available(obj, status, reason, message, now)
            return obj

        try:
            await writes.guaranteed_update(self._ctx, self._info, "", name, mutate, subresource="status")
        except ApiError as exc:
            if exc.code not in (404, 409):
                _log.warning("apiservice %s status: %s", name, exc)
        else:
            _log.info("apiservice %s: Available=%s (%s) %s", name, status, reason, message)


def _with_spec(spec: dict[str, Any]) -> writes.Mutation:
    """The update that sets ``spec`` (the rest of the object as it is)."""
    return lambda obj: {**obj, "spec": spec}


def _automanaged(obj: dict[str, Any]) -> bool:
    return AUTOMANAGED_LABEL in ((obj.get("metadata") or {}).get("labels") or {})


def _differs(obj: dict[str, Any], status: str, reason: str, message: str) -> bool:
    probe = {"status": {"conditions": list((obj.get("status") or {}).get("conditions") or [])}}
    return set_available(probe, status, reason, message, "")
