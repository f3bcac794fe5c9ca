"""The API server's admission plugins, in order: the one list the chain runs.

Design: this module is the registry of the extension point. A plugin is named (upstream's
name where upstream has the plugin) and lists its steps: the stage it runs at, the
operations and resources it handles, and the function that admits. Adding a plugin is one
entry here; no handler changes. Within a stage the steps run in this list's order, which is
the order the handlers ran them in before the chain existed:

- MUTATE: LimitRanger, MutatingAdmissionWebhook;
- VALIDATE: NodeRestriction (DELETE), PodSecurity, the CSR checks, ValidatingAdmissionPolicy,
  ValidatingAdmissionWebhook (a CONNECT: its mutating, then validating webhooks);
- STORE: NodeRestriction, RBAC escalation, the CSR requester, NamespaceLifecycle, CRD
  names, Priority, RuntimeClass, the namespace finalizer, ServiceAccount, a volume's fresh
  status, StorageObjectInUseProtection, DefaultStorageClass, DefaultIngressClass, the
  Service addresses, ResourceQuota.

A CREATE of a subresource (``pods/binding``, ``pods/eviction``: its object a Binding, an
Eviction) runs only the steps marked ``subresource_creates``: the webhooks,
ValidatingAdmissionPolicy and NamespaceLifecycle, which upstream's chain asks about any
request, and NodeRestriction's eviction check (a subresource's step only); the plugins that
read the pod itself (LimitRanger, Pod Security, Priority, quota, ...) skip a subresource, as
upstream's do.

``handles`` is asked once per resource and kept with the chain's plan, so a plugin that
has nothing to do with a kind costs that kind's requests nothing.

A plugin named as upstream's is on or off as kube-apiserver's flags say
(:mod:`.names`: upstream's default set, ``--enable-admission-plugins``,
``--disable-admission-plugins``); NodeRestriction is off unless enabled, as upstream (and on
in kprov's deployments, as kubeadm enables it). The storage strategies' checks (RBAC
escalation, the CSR requester, CRD names, the namespace finalizer, a volume's status, the
Service addresses) are not admission plugins upstream and no flag removes them; the CSR
plugin switches its three upstream plugins inside (:data:`SWITCHED_INSIDE`).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver import _lib
from kprov.cluster.apiserver.admission import (
    builtin,
    limitranger,
    node_restriction,
    podsecurity,
    priority,
    runtimeclass,
    vap,
    webhooks,
)
from kprov.cluster.apiserver.admission import certificates as csr_admission
from kprov.cluster.apiserver.admission import ingressclass as ingressclass_admission
from kprov.cluster.apiserver.admission import serviceaccount as sa_admission
from kprov.cluster.apiserver.admission import storage as storage_admission
from kprov.cluster.apiserver.admission.chain import ALL_OPERATIONS, Plugin, Step
from kprov.cluster.apiserver.admission.quota import ResourceQuota, Update
from kprov.cluster.apiserver.attributes import AdmissionAttributes, Stage
from kprov.cluster.apiserver.context import ApiContext

__all__ = ["SWITCHED_INSIDE", "default_plugins", "implemented_names"]

# upstream plugins that one plugin of the chain switches inside, by their own names
SWITCHED_INSIDE = frozenset({
    csr_admission.APPROVAL_PLUGIN, csr_admission.SIGNING_PLUGIN, csr_admission.SUBJECT_RESTRICTION_PLUGIN
})

_CREATE = frozenset({"CREATE"})
_UPDATE = frozenset({"UPDATE"})
_DELETE = frozenset({"DELETE"})
_CONNECT = frozenset({"CONNECT"})
_WRITES = frozenset({"CREATE", "UPDATE"})
_WRITES_AND_DELETE = frozenset({"CREATE", "UPDATE", "DELETE"})


def _core(*resources: str) -> Any:
    def handles(info: ResourceInfo) -> bool:
        return info.group == "" and info.resource in resources

    return handles


def _is_group(group: str) -> Any:
    def handles(info: ResourceInfo) -> bool:
        return info.group == group

    return handles


def _namespaced(info: ResourceInfo) -> bool:
    return info.namespaced


def _custom_or_crd(info: ResourceInfo) -> bool:
    return info.custom is not None or info.group == "apiextensions.k8s.io"


def _csrs(info: ResourceInfo) -> bool:
    return (info.group, info.resource) == ("certificates.k8s.io", "certificatesigningrequests")


def _ingresses(info: ResourceInfo) -> bool:
    return (info.group, info.resource) == ("networking.k8s.io", "ingresses")


# -- adapters: plugin modules whose entry points take the object, not the attributes ----------
# (an adapter of an async entry point returns its coroutine for the chain to await: no second
# coroutine per step)
def _limit_ranges(ctx: ApiContext, attrs: AdmissionAttributes) -> Awaitable[None]:
    return limitranger.admit(ctx, attrs.info, attrs.obj)


async def _mutating_webhooks(ctx: ApiContext, attrs: AdmissionAttributes) -> Any:
    """The webhooks' object, with the fields its kind does not declare dropped as upstream's
    decoding of the patched object drops them (unchanged: as it was)."""
    after = await webhooks.mutate(ctx, attrs)
    if after is not attrs.obj and not attrs.subresource_object:
        _lib.drop_unknown_fields(attrs.info, after)
    return after


def _priority(ctx: ApiContext, attrs: AdmissionAttributes) -> Awaitable[None]:
    return priority.admit_pod(ctx, attrs.obj)


def _runtime_class(ctx: ApiContext, attrs: AdmissionAttributes) -> Awaitable[None]:
    return runtimeclass.admit_pod(ctx, attrs.obj)


def _service_account(ctx: ApiContext, attrs: AdmissionAttributes) -> Awaitable[None]:
    return sa_admission.admit_pod(ctx, attrs.obj)


async def _fresh_volume_status(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    storage_admission.fresh_status(attrs.info, attrs.obj)


async def _storage_protection(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    storage_admission.protect(attrs.info, attrs.obj)


def _default_storage_class(ctx: ApiContext, attrs: AdmissionAttributes) -> Awaitable[None]:
    return storage_admission.default_class(ctx, attrs.info, attrs.obj)


def _ingress_class(ctx: ApiContext, attrs: AdmissionAttributes) -> Awaitable[None]:
    return ingressclass_admission.admit_create(ctx, attrs.info, attrs.obj)


def default_plugins(update: Update) -> tuple[Plugin, ...]:
    """Every plugin in the chain's order; ``update`` is the guaranteed update quota charges by."""
    pods = _core("pods")
    volumes, claims = _core("persistentvolumes", "persistentvolumeclaims"), _core("persistentvolumeclaims")
    store, validate = Stage.STORE, Stage.VALIDATE
    return (
        Plugin("LimitRanger", (Step(Stage.MUTATE, _CREATE, _limit_ranges, pods),)),
        Plugin("MutatingAdmissionWebhook",
               (Step(Stage.MUTATE, _WRITES, _mutating_webhooks, subresource_creates=True),)),
        Plugin(
            "NodeRestriction",
            (
                Step(validate, _DELETE, builtin.node_restriction_delete, pods),
                Step(store, _CREATE, node_restriction.admit_pod_create, pods),
                Step(store, _CREATE, node_restriction.admit_eviction, pods, subresource_creates=True,
                     only_subresource_creates=True),
                Step(store, _UPDATE, builtin.node_restriction_update, pods),
            ),
        ),
        Plugin(podsecurity.PLUGIN_NAME, (Step(validate, _WRITES, podsecurity.validate),)),
        # CertificateApproval, CertificateSigning, CertificateSubjectRestriction: each of
        # the three is switched off by its own name inside (one step, one authorizer)
        Plugin("CertificateRequests", (Step(validate, _WRITES, csr_admission.validate, _csrs),),
               switchable=False),
        Plugin(vap.PLUGIN_NAME, (Step(validate, ALL_OPERATIONS, vap.validate, subresource_creates=True),)),
        Plugin(
            "ValidatingAdmissionWebhook",
            (
                Step(validate, _WRITES_AND_DELETE, webhooks.validate, subresource_creates=True),
                Step(validate, _CONNECT, webhooks.connect),
            ),
        ),
        # the storage strategies' checks and the built-in plugins that run as the write is stored
        Plugin("RBACEscalation", (Step(store, _WRITES, builtin.rbac_escalation,
                                       _is_group("rbac.authorization.k8s.io")),), switchable=False),
        Plugin("CSRRequester", (Step(store, _CREATE, builtin.csr_requester, _csrs),), switchable=False),
        Plugin("NamespaceLifecycle",
               (Step(store, _CREATE, builtin.namespace_lifecycle, _namespaced, subresource_creates=True),)),
        Plugin(
            "CustomResourceNames",
            (
                Step(store, _CREATE, builtin.crd_names, _custom_or_crd),
                Step(store, _UPDATE, builtin.crd_names, _is_group("apiextensions.k8s.io")),
            ),
            switchable=False,
        ),
        Plugin("Priority", (Step(store, _CREATE, _priority, pods),)),
        Plugin("RuntimeClass", (Step(store, _CREATE, _runtime_class, pods),)),
        Plugin("NamespaceFinalizer", (Step(store, _CREATE, builtin.namespace_finalizer,
                                           _core("namespaces")),), switchable=False),
        Plugin(sa_admission.PLUGIN_NAME, (Step(store, _CREATE, _service_account, pods),)),
        Plugin("PersistentVolumeStatus", (Step(store, _CREATE, _fresh_volume_status, volumes),),
               switchable=False),
        Plugin("StorageObjectInUseProtection", (Step(store, _CREATE, _storage_protection, volumes),)),
        Plugin("DefaultStorageClass", (Step(store, _CREATE, _default_storage_class, claims),)),
        Plugin("DefaultIngressClass", (Step(store, _CREATE, _ingress_class, _ingresses),)),
        Plugin("ServiceAddresses", (Step(store, _WRITES, builtin.service_addresses, _core("services")),),
               switchable=False),
        Plugin("ResourceQuota", (Step(store, _CREATE, ResourceQuota(update), _namespaced),)),
    )


def implemented_names(plugins: tuple[Plugin, ...]) -> frozenset[str]:
    """The upstream plugin names the flags can switch in this chain."""
    return frozenset(p.name for p in plugins if p.switchable) | SWITCHED_INSIDE
