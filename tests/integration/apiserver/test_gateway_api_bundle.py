"""Gateway API v1.6.1's standard bundle (vendored: tests/data/gateway-api-v1.6.1) as people
install it, with stock kubectl against a real API server: `kubectl apply --server-side` of the
whole bundle, then again (its safe-upgrades ValidatingAdmissionPolicy, calling CEL's global
``matches``, now judges every write of its CRDs), and a downgrade to an older bundle refused
with the policy's own message. Everything is removed after, so other tests see no policy."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.integration.apiserver.conftest import Kubectl

BUNDLE = Path(__file__).parents[2] / "data" / "gateway-api-v1.6.1"
POLICY = "safe-upgrades.gateway.networking.k8s.io"


def _apply_bundle(kubectl: Kubectl) -> None:
    for path in sorted(BUNDLE.glob("*.yaml")):
        kubectl("apply", "--server-side", "-f", str(path))


def test_the_bundle_applies_twice_and_refuses_a_downgrade(kubectl: Kubectl, tmp_path: Path) -> None:
    crds = [
        d["metadata"]["name"]
        for p in sorted(BUNDLE.glob("*.yaml"))
        for d in yaml.safe_load_all(p.read_text())
        if d and d["kind"] == "CustomResourceDefinition"
    ]
    try:
        _apply_bundle(kubectl)
        kubectl("get", "validatingadmissionpolicy", POLICY)
        _apply_bundle(kubectl)  # the re-apply (an upgrade's path), judged by the policy
        older = yaml.safe_load((BUNDLE / "gateway.networking.k8s.io_httproutes.yaml").read_text())
        older["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] = "v1.2.1"
        downgrade = tmp_path / "httproutes-v1.2.1.yaml"
        downgrade.write_text(yaml.safe_dump(older))
        refused = kubectl("apply", "--server-side", "-f", str(downgrade), check=False)
        assert refused.returncode != 0
        assert (
            f"ValidatingAdmissionPolicy '{POLICY}' with binding '{POLICY}' denied request: Installing CRDs "
            "with version before v1.5.0 is prohibited by default."
        ) in refused.stderr, refused.stderr
    finally:
        kubectl("delete", "validatingadmissionpolicybinding", POLICY, "--ignore-not-found", check=False)
        kubectl("delete", "validatingadmissionpolicy", POLICY, "--ignore-not-found", check=False)
        kubectl("delete", "crd", *crds, "--ignore-not-found", check=False)
