"""API aggregation's shared state: which group/versions another server answers, where that
server is, and how to reach it.

Design: one :class:`Aggregation` per API server (:func:`aggregation_of`). An
APIService whose ``spec.service`` is set makes ``/apis/<group>/<version>/...`` another
server's: :meth:`Aggregation.remote_for` finds it with one watch-cache lookup (the object
is named ``<version>.<group>``), so requests for the server's own kinds pay a dictionary
miss. :meth:`Aggregation.resolve` turns the APIService's Service into one ready endpoint as
kube-apiserver's endpoint routing does (the Service port with that number names the
EndpointSlices' port; an ExternalName Service is its external name): the API server dials
the endpoint itself, so the control-plane hosts need no Service routing. TLS contexts (the
caBundle or insecureSkipTLSVerify, plus the front-proxy client certificate the backend
authenticates this server by) are built once per bundle. The availability controller
stores each remote group/version's discovery document here (:attr:`discovery`) for the
merged /apis documents.
"""

from __future__ import annotations

import base64
import random
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from kprov.cluster.api.kinds.apiregistration import GROUP, ServiceRef, service_ref
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.storage import object_key, scope_prefix

__all__ = ["APISERVICES_PREFIX", "Aggregation", "Endpoint", "Unresolvable", "aggregation_of"]

APISERVICES_PREFIX = scope_prefix(GROUP, "apiservices")
_SERVICE_NAME_LABEL = "kubernetes.io/service-name"


class Unresolvable(Exception):
    """The Service has no endpoint to send to: ``reason`` is the Available condition's."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    server_name: str  # checked against the serving certificate: <service>.<namespace>.svc


def _service_port(service: Mapping[str, Any], port: int) -> Mapping[str, Any] | None:
    for svc_port in (service.get("spec") or {}).get("ports") or []:
        if isinstance(svc_port, Mapping) and svc_port.get("port") == port:
            return svc_port
    return None


def ready_addresses(slices: Sequence[Mapping[str, Any]], port_name: str) -> list[tuple[str, int]]:
    """(address, port) of every ready endpoint of ``slices`` on the port named ``port_name``
    (a missing ready condition counts as ready, as upstream reads it)."""
    found: list[tuple[str, int]] = []
    for piece in slices:
        ports = [p for p in piece.get("ports") or [] if (p.get("name") or "") == port_name and p.get("port")]
        if not ports:
            continue
        for endpoint in piece.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            found += [(str(a), int(ports[0]["port"])) for a in endpoint.get("addresses") or []]
    return found


class Aggregation:
    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx
        config = ctx.config
        self._client_cert = (config.proxy_client_cert_file, config.proxy_client_key_file)
        self._contexts: dict[tuple[str, bool], ssl.SSLContext] = {}
        self._session: aiohttp.ClientSession | None = None
        # APIService name -> (its resourceVersion when fetched, the backend's APIResourceList)
        self.discovery: dict[str, tuple[str, dict[str, Any]]] = {}
        # APIService name -> ("apis/<group>/<version>", the backend's OpenAPI v3 document, as served)
        self.openapi: dict[str, tuple[str, bytes]] = {}

    def forget(self, name: str) -> None:
        """Drop what was fetched from an APIService's backend (gone, or failing)."""
        self.discovery.pop(name, None)
        self.openapi.pop(name, None)

    def openapi_paths(self) -> dict[str, bytes]:
        """"apis/<group>/<version>" -> document, for the remote APIServices that publish one."""
        return {path: body for name, (path, body) in self.openapi.items() if self.apiservice_by_name(name)}

    # -- which APIService -----------------------------------------------------------------
    def apiservice(self, group: str, version: str) -> dict[str, Any] | None:
        return self._ctx.cache.get(object_key(GROUP, "apiservices", "", f"{version}.{group}"))

    def apiservice_by_name(self, name: str) -> dict[str, Any] | None:
        return self._ctx.cache.get(object_key(GROUP, "apiservices", "", name))

    def remote_for(self, path: str) -> dict[str, Any] | None:
        """The non-local APIService serving ``path`` (``/apis/<group>/<version>[/...]``)."""
        if not path.startswith("/apis/"):
            return None
        parts = path.split("/", 5)
        if len(parts) < 4 or not parts[2] or not parts[3]:
            return None
        found = self.apiservice(parts[2], parts[3])
        if found is None or service_ref(found) is None:
            return None
        return found

    def apiservices(self) -> list[dict[str, Any]]:
        return self._ctx.cache.scope(APISERVICES_PREFIX)

    # -- where its server is --------------------------------------------------------------
    def resolve(self, ref: ServiceRef) -> Endpoint:
        """One ready endpoint of ``ref``'s Service (random among them); Unresolvable with
        the reason and message upstream's availability condition gives."""
        cache = self._ctx.cache
        where = f'service/{ref.name} in "{ref.namespace}"'
        service = cache.get(object_key("", "services", ref.namespace, ref.name))
        if service is None:
            raise Unresolvable("ServiceNotFound", f"{where} is not present")
        server_name = f"{ref.name}.{ref.namespace}.svc"
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return Endpoint(str(spec.get("externalName") or ""), ref.port, server_name)
        svc_port = _service_port(service, ref.port)
        if svc_port is None:
            raise Unresolvable("ServicePortError", f"{where} is not listening on port {ref.port}")
        port_name = str(svc_port.get("name") or "")
        slices = [
            s for s in cache.objects(scope_prefix("discovery.k8s.io", "endpointslices", ref.namespace))
            if ((s.get("metadata") or {}).get("labels") or {}).get(_SERVICE_NAME_LABEL) == ref.name
        ]
        if not slices:
            raise Unresolvable("EndpointsNotFound", f"cannot find endpointslices for {where}")
        addresses = ready_addresses(slices, port_name)
        if not addresses:
            message = f'endpointslices for {where} have no addresses with port name "{port_name}"'
            raise Unresolvable("MissingEndpoints", message)
        host, port = random.choice(addresses)
        return Endpoint(host, port, server_name)

    # -- how to reach it ------------------------------------------------------------------
    def ssl_context(self, apiservice: Mapping[str, Any], verify: bool = True) -> ssl.SSLContext:
        """TLS to the backend: its certificate checked with caBundle (the system roots when
        there is none) unless insecureSkipTLSVerify (or ``verify`` False: the availability
        check, as upstream's, does not verify); the front-proxy client certificate offered."""
        spec = apiservice.get("spec") or {}
        bundle = str(spec.get("caBundle") or "")
        insecure = bool(spec.get("insecureSkipTLSVerify")) or not verify
        key = (bundle, insecure)
        context = self._contexts.get(key)
        if context is None:
            if insecure:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                context = ssl.create_default_context()
                if bundle:
                    context.load_verify_locations(cadata=base64.b64decode(bundle).decode())
            cert, private_key = self._client_cert
            if cert and private_key:
                context.load_cert_chain(cert, private_key)
            if len(self._contexts) > 64:
                self._contexts.clear()
            self._contexts[key] = context
        return context

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def aggregation_of(ctx: ApiContext) -> Aggregation:
    return ctx.shared(Aggregation, lambda: Aggregation(ctx))
