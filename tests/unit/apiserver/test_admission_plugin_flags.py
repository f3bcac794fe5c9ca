"""``--enable-admission-plugins`` / ``--disable-admission-plugins`` as kube-apiserver reads
them: upstream's names and default set, every plugin of the chain switchable by its name,
unknown names refused at start with upstream's error."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from typing import Any

import pytest

from kprov.cluster.api.resources import REGISTRY, ResourceInfo
from kprov.cluster.apiserver.admission import plugins as plugin_list
from kprov.cluster.apiserver.admission.chain import AdmissionChain
from kprov.cluster.apiserver.admission.names import (
    ALL_ORDERED,
    DEFAULT_ON,
    enabled_plugins,
    flag_errors,
    without_effect,
)
from kprov.cluster.apiserver.attributes import Stage
from kprov.cluster.apiserver.config import ServerConfig, config_from_flags
from kprov.cluster.apiserver.server import start_server
from kprov.cluster.storage import EtcdConfig

REQUIRED = ["--etcd-servers", "https://10.0.0.1:2379", "--tls-cert-file", "c.pem",
            "--tls-private-key-file", "k.pem", "--client-ca-file", "ca.pem"]


async def _never(*args: Any, **kwargs: Any) -> dict[str, Any]:
    raise AssertionError("not called")


PLUGINS = plugin_list.default_plugins(_never)


def _info(group: str, version: str, resource: str) -> ResourceInfo:
    info = REGISTRY.get(group, version, resource)
    assert info is not None
    return info


def _all_names(chain: AdmissionChain) -> set[str]:
    return {p.name for p in chain.plugins}


def test_every_switchable_plugin_carries_an_upstream_name() -> None:
    switchable = [p.name for p in PLUGINS if p.switchable]
    assert len(switchable) >= 14
    assert [n for n in switchable if n not in ALL_ORDERED] == []
    # the always-on ones are storage strategies' checks (or switch upstream's plugins inside)
    assert [p.name for p in PLUGINS if not p.switchable and p.name in ALL_ORDERED] == []
    assert set(ALL_ORDERED) >= plugin_list.SWITCHED_INSIDE


@pytest.mark.parametrize("name", [p.name for p in PLUGINS if p.switchable])
def test_each_plugin_switched_by_its_name(name: str) -> None:
    on = AdmissionChain(PLUGINS, enabled_plugins(enable=(name,) if name not in DEFAULT_ON else ()))
    off = AdmissionChain(PLUGINS, enabled_plugins(disable=(name,)))
    assert name in _all_names(on)
    assert name not in _all_names(off)
    assert _all_names(on) - _all_names(off) == {name}


def test_the_default_set_is_upstreams() -> None:
    chain = AdmissionChain(PLUGINS, enabled_plugins())
    pods = _info("", "v1", "pods")
    assert "NodeRestriction" not in chain.names(Stage.STORE, "CREATE", pods)  # off upstream by default
    assert chain.names(Stage.STORE, "CREATE", pods) == [
        "NamespaceLifecycle", "Priority", "RuntimeClass", "ServiceAccount", "ResourceQuota"
    ]
    claims = _info("", "v1", "persistentvolumeclaims")
    assert chain.names(Stage.STORE, "CREATE", claims) == [
        "NamespaceLifecycle", "PersistentVolumeStatus", "StorageObjectInUseProtection",
        "DefaultStorageClass", "ResourceQuota",
    ]
    kubeadm = AdmissionChain(PLUGINS, enabled_plugins(enable=("NodeRestriction",)))
    assert kubeadm.names(Stage.STORE, "CREATE", pods)[0] == "NodeRestriction"


def test_strategies_stay_whatever_the_flags_say() -> None:
    nothing = AdmissionChain(PLUGINS, frozenset())
    services = _info("", "v1", "services")
    namespaces = _info("", "v1", "namespaces")
    assert nothing.names(Stage.STORE, "CREATE", services) == ["ServiceAddresses"]
    assert nothing.names(Stage.STORE, "CREATE", namespaces) == ["NamespaceFinalizer"]
    csrs = _info("certificates.k8s.io", "v1", "certificatesigningrequests")
    assert nothing.names(Stage.VALIDATE, "CREATE", csrs) == ["CertificateRequests"]


def test_upstreams_errors() -> None:
    assert flag_errors(["NodeRestriction"], ["ServiceAccount"]) == []
    assert flag_errors(["Foo"], ["Bar", "ServiceAccount"]) == [
        'enable-admission-plugins plugin "Foo" is unknown',
        'disable-admission-plugins plugin "Bar" is unknown',
    ]
    assert flag_errors(["PodSecurity", "Priority"], ["Priority", "PodSecurity"]) == [
        "[PodSecurity Priority] in enable-admission-plugins and disable-admission-plugins overlapped"
    ]
    with pytest.raises(ValueError, match=r'^enable-admission-plugins plugin "Foo" is unknown$'):
        enabled_plugins(enable=("Foo",))
    with pytest.raises(ValueError) as two:
        enabled_plugins(enable=("Foo",), disable=("Bar",))
    assert str(two.value) == ('[enable-admission-plugins plugin "Foo" is unknown, '
                              'disable-admission-plugins plugin "Bar" is unknown]')


def test_upstream_names_kprov_lacks_are_accepted_and_reported() -> None:
    implemented = plugin_list.implemented_names(PLUGINS)
    assert "CertificateSigning" in implemented and "ServiceAddresses" not in implemented
    assert without_effect(["AlwaysPullImages", "NodeRestriction", "DenyServiceExternalIPs"], implemented) == [
        "AlwaysPullImages", "DenyServiceExternalIPs"
    ]
    assert "AlwaysPullImages" in enabled_plugins(enable=("AlwaysPullImages",))


def test_the_flags_fill_the_configuration() -> None:
    config, _ = config_from_flags(argparse.ArgumentParser(), [
        *REQUIRED, "--enable-admission-plugins", "NodeRestriction",
        "--disable-admission-plugins", "LimitRanger",
    ])
    assert config.enable_admission_plugins == ("NodeRestriction",)
    assert config.disable_admission_plugins == ("LimitRanger",)


@pytest.mark.parametrize(("flag", "message"), [
    ("--enable-admission-plugins=Foo", 'enable-admission-plugins plugin "Foo" is unknown'),
    ("--disable-admission-plugins=NamespaceLifecycle,RBACEscalation",
     'disable-admission-plugins plugin "RBACEscalation" is unknown'),
])
def test_an_unknown_name_stops_the_server_at_start(flag: str, message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "kprov.cluster.apiserver", *REQUIRED, flag],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1  # as kube-apiserver's failed validation, before etcd is asked
    assert done.stderr.strip() == f"kprov-apiserver: {message}"


def test_a_configuration_built_in_code_is_refused_before_etcd_is_asked() -> None:
    config = ServerConfig(EtcdConfig(["http://127.0.0.1:9"]), enable_admission_plugins=("Foo",))
    with pytest.raises(ValueError, match='enable-admission-plugins plugin "Foo" is unknown'):
        asyncio.run(start_server(config))
