"""The API server's flags, grouped by concern beside the configuration they fill."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from kprov.cluster.apiserver.__main__ import parse_args
from kprov.cluster.apiserver.config import FLAG_GROUPS, ServerConfig, config_from_flags

REQUIRED = ["--etcd-servers", "https://10.0.0.1:2379, https://10.0.0.2:2379", "--tls-cert-file", "c.pem",
            "--tls-private-key-file", "k.pem", "--client-ca-file", "ca.pem"]
# set by no flag: internal knobs the server and tests set
NOT_FLAGS = {
    "max_body_bytes", "bookmark_interval_s", "apiservice_check_interval_s", "shutdown_timeout_s", "extra"
}


def _groups_of(argv: list[str]) -> dict[str, set[str]]:
    parser = argparse.ArgumentParser()
    for group in FLAG_GROUPS:
        group.add(parser.add_argument_group(group.title))
    args = parser.parse_args(argv)
    return {group.title: set(group.read(args)) for group in FLAG_GROUPS}


def test_every_configuration_field_is_one_groups() -> None:
    fields = {f.name for f in dataclasses.fields(ServerConfig)}
    owners: dict[str, list[str]] = {}
    for title, names in _groups_of(REQUIRED).items():
        for name in names:
            owners.setdefault(name, []).append(title)
    assert {n: t for n, t in owners.items() if len(t) > 1} == {}
    assert set(owners) == fields - NOT_FLAGS


def test_flags_read_as_kube_apiserver_reads_them() -> None:
    config = parse_args([
        *REQUIRED, "--service-node-port-range", "30000-30100", "--shutdown-delay-duration", "1m30s",
        "--enable-priority-and-fairness=false", "--disable-admission-plugins", "ServiceAccount, PodSecurity",
        "--service-account-key-file", "a.pub", "--service-account-key-file", "b.pub", "--workers", "0",
        "--audit-log-maxsize", "-3", "--runtime-config", "admissionregistration.k8s.io/v1beta1=true",
    ])
    assert config.etcd.servers == ["https://10.0.0.1:2379", "https://10.0.0.2:2379"]
    assert config.tls_key_file == "k.pem"
    assert config.service_node_port_range == (30000, 30100)
    assert config.shutdown_delay_s == 90.0
    assert config.enable_priority_and_fairness is False
    assert config.disable_admission_plugins == ("ServiceAccount", "PodSecurity")
    assert config.service_account_key_files == ("a.pub", "b.pub")
    assert (config.workers, config.audit_log_maxsize_mb) == (1, 0)  # clamped, as before
    assert config.runtime_config == (("admissionregistration.k8s.io/v1beta1", True),)
    assert config.requestheader_username_headers == ("X-Remote-User",)


@pytest.mark.parametrize(
    "bad",
    [
        ["--service-node-port-range", "5-1"],
        ["--shutdown-delay-duration", "5 s"],
        ["--runtime-config", "x=maybe"],
        ["--service-cluster-ip-range", "10.96.0.0/16,10.97.0.0/16"],
    ],
)
def test_a_refused_value_exits_naming_the_flag(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        config_from_flags(argparse.ArgumentParser(prog="kprov-apiserver"), [*REQUIRED, *bad])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert bad[0] in err
