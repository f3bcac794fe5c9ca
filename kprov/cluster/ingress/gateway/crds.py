"""kprov's Gateway API CustomResourceDefinitions (``crds.yaml`` beside this module) and
their install: :func:`ensure_crds` creates them, or updates those whose labels say an older
revision, never one a user upgraded to a newer Gateway API bundle (its
``bundle-version`` label); :func:`ensure_gateway_class` ships the GatewayClass ``kprov``
naming the controller, so a Gateway works with no class written by the user (as Cilium,
Istio and Traefik ship theirs), and never touches a class the user wrote under that name
(kprov-ingress runs both at start with ``--ensure-gateway-crds``: the roles install the
controller, the controller installs its API). Each :func:`gateway_crds` call returns fresh
objects (the file's YAML anchors share nodes)."""

from __future__ import annotations

import contextlib
import copy
import logging
from importlib import resources
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from kprov.cluster.client.errors import AlreadyExists, Conflict
from kprov.cluster.client.resources import Resource
from kprov.cluster.client.rest import ApiClient

__all__ = [
    "CRD_NAMES",
    "CUSTOM_RESOURCE_DEFINITIONS",
    "GATEWAYS",
    "GATEWAY_CLASSES",
    "GROUP",
    "HTTP_ROUTES",
    "REFERENCE_GRANTS",
    "ensure_crds",
    "ensure_gateway_class",
    "gateway_crds",
]

log = logging.getLogger(__name__)
BUNDLE_LABEL = "gateway.networking.k8s.io/bundle-version"
REVISION_LABEL = "kprov.io/crd-revision"  # raise it with every change to crds.yaml

GROUP = "gateway.networking.k8s.io"

CRD_NAMES = (
    "gatewayclasses.gateway.networking.k8s.io",
    "gateways.gateway.networking.k8s.io",
    "httproutes.gateway.networking.k8s.io",
    "referencegrants.gateway.networking.k8s.io",
)


def gateway_crds() -> list[dict[str, Any]]:
    text = resources.files(__package__).joinpath("crds.yaml").read_text(encoding="utf-8")
    return copy.deepcopy(yaml.safe_load(text)["crds"])


GATEWAY_CLASSES = Resource(GROUP, "v1", "gatewayclasses", "GatewayClass", False)
GATEWAYS = Resource(GROUP, "v1", "gateways", "Gateway", True)
HTTP_ROUTES = Resource(GROUP, "v1", "httproutes", "HTTPRoute", True)
REFERENCE_GRANTS = Resource(GROUP, "v1beta1", "referencegrants", "ReferenceGrant", True)
CUSTOM_RESOURCE_DEFINITIONS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                       "CustomResourceDefinition", False)


async def ensure_crds(client: ApiClient) -> None:
    """Create the CRDs, or update one whose spec or labels differ from kprov's (an upgrade).
    Every instance does it at start; a lost race (exists, conflict) is someone else's win."""
    for crd in gateway_crds():
        name = crd["metadata"]["name"]
        try:
            await client.create(CUSTOM_RESOURCE_DEFINITIONS, crd)
            log.info("CustomResourceDefinition %s created", name)
            continue
        except AlreadyExists:
            pass
        stored = await client.get(CUSTOM_RESOURCE_DEFINITIONS, name)
        labels = (stored.get("metadata") or {}).get("labels") or {}
        if labels.get(BUNDLE_LABEL) == crd["metadata"]["labels"][BUNDLE_LABEL] and \
                labels.get(REVISION_LABEL) == crd["metadata"]["labels"][REVISION_LABEL]:
            continue
        if _newer(labels.get(BUNDLE_LABEL), crd["metadata"]["labels"][BUNDLE_LABEL]):
            log.info("CustomResourceDefinition %s left at the user's %s", name, labels.get(BUNDLE_LABEL))
            continue
        stored["metadata"]["labels"] = {**labels, **crd["metadata"]["labels"]}
        stored["spec"] = crd["spec"]
        with contextlib.suppress(Conflict):
            await client.update(CUSTOM_RESOURCE_DEFINITIONS, stored)
            log.info("CustomResourceDefinition %s updated", name)


def _newer(stored: Any, ours: str) -> bool:
    """Is the stored bundle version (``v1.6.1``) newer than kprov's? (unreadable: no)"""
    try:
        return Version(str(stored).lstrip("v")) > Version(ours.lstrip("v"))
    except InvalidVersion:
        return False


async def ensure_gateway_class(client: ApiClient, controller_name: str, name: str = "kprov") -> None:
    """Create the GatewayClass ``name`` of ``controller_name`` unless one exists (the user's
    stays as written); the controller then reports it Accepted as any class of its own."""
    body = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": {"controllerName": controller_name,
                 "description": "kprov's Gateway API implementation (kprov-ingress, HAProxy)"},
    }
    with contextlib.suppress(AlreadyExists):
        await client.create(GATEWAY_CLASSES, body)
        log.info("GatewayClass %s created", name)
