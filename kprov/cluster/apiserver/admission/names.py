"""The admission plugins' names as kube-apiserver knows them, and which are on.

Design: ``--enable-admission-plugins`` and ``--disable-admission-plugins`` take upstream's
names and mean what they mean upstream (``k8s.io/apiserver``'s ``AdmissionOptions``): the
plugins on are the default-on ones (:data:`DEFAULT_ON`, kube-apiserver v1.32's) plus those
enabled, minus those disabled. A name kube-apiserver does not register is refused at start
with its error, and so is a name given to both flags. A name upstream registers that kprov's
chain has no plugin for (``AlwaysPullImages``, say) is accepted, as kube-apiserver accepts it,
and the server says at start that it has no effect (:func:`without_effect`).

Pure data and checks, importable by the flag parser without the plugins themselves; the
chain (:mod:`.plugins`) names its plugins from here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

__all__ = ["ALL_ORDERED", "DEFAULT_ON", "aggregate", "enabled_plugins", "flag_errors", "without_effect"]

# kube-apiserver v1.32's registered plugins, in its recommended order (AllOrderedPlugins)
ALL_ORDERED = (
    "AlwaysAdmit",
    "NamespaceAutoProvision",
    "NamespaceLifecycle",
    "NamespaceExists",
    "LimitPodHardAntiAffinityTopology",
    "LimitRanger",
    "ServiceAccount",
    "NodeRestriction",
    "TaintNodesByCondition",
    "AlwaysPullImages",
    "ImagePolicyWebhook",
    "PodSecurity",
    "PodNodeSelector",
    "Priority",
    "DefaultTolerationSeconds",
    "PodTolerationRestriction",
    "EventRateLimit",
    "ExtendedResourceToleration",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "OwnerReferencesPermissionEnforcement",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "CertificateApproval",
    "CertificateSigning",
    "ClusterTrustBundleAttest",
    "CertificateSubjectRestriction",
    "DefaultIngressClass",
    "DenyServiceExternalIPs",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
    "AlwaysDeny",
)

# on unless disabled (kube-apiserver v1.32's DefaultOffAdmissionPlugins, the other way round)
DEFAULT_ON = frozenset({
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "DefaultStorageClass",
    "PersistentVolumeClaimResize",
    "DefaultTolerationSeconds",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
    "StorageObjectInUseProtection",
    "Priority",
    "TaintNodesByCondition",
    "RuntimeClass",
    "CertificateApproval",
    "CertificateSigning",
    "ClusterTrustBundleAttest",
    "CertificateSubjectRestriction",
    "DefaultIngressClass",
    "PodSecurity",
    "MutatingAdmissionPolicy",
    "ValidatingAdmissionPolicy",
})


def flag_errors(enable: Iterable[str], disable: Iterable[str]) -> list[str]:
    """What kube-apiserver refuses in the two flags, worded as it words it (empty: none)."""
    known = set(ALL_ORDERED)
    enable, disable = list(enable), list(disable)
    errors = [f'enable-admission-plugins plugin "{n}" is unknown' for n in enable if n not in known]
    errors += [f'disable-admission-plugins plugin "{n}" is unknown' for n in disable if n not in known]
    both = sorted(set(enable) & set(disable))
    if both:
        errors.append(
            f"[{' '.join(both)}] in enable-admission-plugins and disable-admission-plugins overlapped"
        )
    return errors


def aggregate(errors: list[str]) -> str:
    """Several errors as one message, as Go's ``utilerrors.NewAggregate`` prints them."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else f"[{', '.join(unique)}]"


def enabled_plugins(enable: Collection[str] = (), disable: Collection[str] = ()) -> frozenset[str]:
    """The plugins on: the default-on ones and ``enable``, without ``disable``; a refused
    combination (:func:`flag_errors`) raises ValueError with kube-apiserver's message."""
    errors = flag_errors(enable, disable)
    if errors:
        raise ValueError(aggregate(errors))
    return (DEFAULT_ON | frozenset(enable)) - frozenset(disable)


def without_effect(names: Iterable[str], implemented: Collection[str]) -> list[str]:
    """The names among ``names`` (the flags' own, not the defaults) that no plugin of kprov's
    chain carries: accepted as upstream accepts them, but switching nothing."""
    return [name for name in dict.fromkeys(names) if name not in implemented]
