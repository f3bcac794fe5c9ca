"""The controller manager role's pod range flags: kprov-controller-manager reads them back to
/24 ranges on an IPv4 cluster (as before) and /24 + /64 on a dual-stack one, where upstream
refuses the single-family --node-cidr-mask-size."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kprov.cluster.controllers.__main__ import build_parser
from kprov.cluster.controllers.network.nodeipam import cluster_cidrs, node_mask_sizes
from kprov.provision.templates import TemplateEngine

ROLES = Path(__file__).resolve().parents[3] / "roles"


def _mask_sizes(cluster_cidr: str) -> list[int]:
    defaults = yaml.safe_load((ROLES / "controller_manager" / "defaults" / "main.yml").read_text())
    shared = yaml.safe_load((ROLES / "kprov_defaults" / "defaults" / "main.yml").read_text())
    layers = [({"kprov_cluster_cidr": cluster_cidr}, True), (defaults, True), (shared, True)]
    scope = TemplateEngine().scope(layers)  # lazily, as kprov and Ansible resolve defaults
    args_in = scope.template("{{ controller_manager_args + controller_manager_family_args }}", "test")
    flags = [arg for arg in args_in if "cidr" in arg]
    args, _ = build_parser().parse_known_args(["--kubeconfig", "k", *flags])
    versions = [n.version for n in cluster_cidrs(args.cluster_cidr)]
    return node_mask_sizes(versions, args.node_cidr_mask_size, args.node_cidr_mask_size_ipv4,
                           args.node_cidr_mask_size_ipv6)


@pytest.mark.parametrize(("cidr", "sizes"), [
    ("10.244.0.0/16", [24]),
    ("10.244.0.0/16,fd00:10:244::/56", [24, 64]),
    ("fd00:10:244::/56,10.244.0.0/16", [64, 24]),
])
def test_role_flags_give_upstreams_sizes(cidr: str, sizes: list[int]) -> None:
    assert _mask_sizes(cidr) == sizes
