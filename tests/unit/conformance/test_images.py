"""Which suite images kprov provides offline, by repository, and their image specs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from kprov.conformance.images import image_specs, plan_images
from kprov.conformance.nnp import compiler
from kprov.images.recipes import BUSYBOX_PATH

_REFS = [
    "registry.k8s.io/e2e-test-images/agnhost:2.45",
    "registry.k8s.io/e2e-test-images/busybox:1.36.1-1",
    "registry.k8s.io/pause:3.9",
    "registry.k8s.io/e2e-test-images/nginx:1.15-4",
    "registry.k8s.io/e2e-test-images/httpd:2.4.39-4",
    "registry.k8s.io/e2e-test-images/jessie-dnsutils:1.7",
    "registry.k8s.io/e2e-test-images/nautilus:1.7",
    "registry.k8s.io/sig-storage/csi-provisioner:v3.5.0",
    "localhost:5000/e2e-test-images/agnhost:2.45",
]


def test_plan_provides_by_repository_and_reports_the_rest_missing() -> None:
    plan = plan_images(_REFS, have_agnhost=True)
    recipes = {p.reference: (p.recipe, p.kind) for p in plan.provided}
    assert recipes["registry.k8s.io/e2e-test-images/agnhost:2.45"] == ("agnhost", "substitute")
    assert recipes["registry.k8s.io/pause:3.9"] == ("pause", "substitute")
    assert recipes["registry.k8s.io/e2e-test-images/nginx:1.15-4"] == ("http-standin", "stand-in")
    assert recipes["registry.k8s.io/e2e-test-images/jessie-dnsutils:1.7"] == ("dnsutils-standin", "stand-in")
    assert recipes["localhost:5000/e2e-test-images/agnhost:2.45"] == ("agnhost", "substitute")
    assert plan.missing == ["registry.k8s.io/sig-storage/csi-provisioner:v3.5.0"]


def test_without_agnhost_only_the_busybox_images_are_provided() -> None:
    plan = plan_images(_REFS, have_agnhost=False)
    assert sorted(p.recipe for p in plan.provided) == ["busybox", "demo-standin", "httpd-standin", "pause"]
    assert len(plan.missing) == len(_REFS) - 4


@pytest.mark.skipif(not BUSYBOX_PATH.exists(), reason="needs Debian's busybox-static")
def test_httpd_and_update_demo_stand_ins_serve_their_documents_with_busybox_httpd() -> None:
    specs = {s.reference: s for s in image_specs(plan_images(_REFS, have_agnhost=False), None)}
    httpd = specs["registry.k8s.io/e2e-test-images/httpd:2.4.39-4"]
    assert httpd.entrypoint[:3] == ["/bin/busybox", "sh", "-c"]
    assert "/bin/busybox httpd -f -p 80 -h /usr/local/apache2/htdocs &" in httpd.entrypoint[3]
    files = {f.path: f for f in httpd.files}
    assert b"It works!" in (files["usr/local/apache2/htdocs/index.html"].data or b"")
    assert len([f for f in httpd.files if f.path == "usr"]) == 1  # no directory twice in the layer
    demo = specs["registry.k8s.io/e2e-test-images/nautilus:1.7"]
    data = {f.path: f for f in demo.files}["usr/share/demo/data.json"].data or b""
    assert json.loads(data) == {"image": "nautilus.jpg"} and "-h /usr/share/demo &" in demo.entrypoint[-1]


@pytest.mark.skipif(not BUSYBOX_PATH.exists(), reason="needs Debian's busybox-static")
def test_agnhost_images_share_one_root_with_the_users_the_suite_expects(tmp_path: Path) -> None:
    agnhost = tmp_path / "agnhost"
    agnhost.write_bytes(b"#!/bin/sh\n")
    specs = {s.reference: s for s in image_specs(plan_images(_REFS, have_agnhost=True), agnhost)}
    real = specs["registry.k8s.io/e2e-test-images/agnhost:2.45"]
    standin = specs["registry.k8s.io/e2e-test-images/nginx:1.15-4"]
    assert real.entrypoint == ["/agnhost"] and real.cmd == ["pause"]
    assert standin.entrypoint == ["/agnhost", "netexec", "--http-port=80"]
    assert real.files is standin.files  # one layer for both
    files = {f.path: f for f in real.files}
    assert b"user-defined-in-image:x:1000:1000" in (files["etc/passwd"].data or b"")
    # upstream's: the uid-1000 user is a member of gid 50000 (merged into its groups by the runtime)
    assert b"group-defined-in-image:x:50000:user-defined-in-image\n" in (files["etc/group"].data or b"")
    assert files["uploads"].is_dir and files["agnhost-2"].symlink_to == "agnhost"
    # porter/netexec serve TLS from these (the real image has them in its working directory)
    cert = x509.load_pem_x509_certificate(files["localhost.crt"].data or b"")
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "localhost"
    assert b"PRIVATE KEY" in (files["localhost.key"].data or b"")


@pytest.mark.skipif(not BUSYBOX_PATH.exists() or compiler() is None, reason="needs busybox-static and cc")
def test_nonewprivs_is_a_setuid_root_program_printing_its_effective_uid(tmp_path: Path) -> None:
    refs = ["registry.k8s.io/e2e-test-images/nonewprivs:1.3"]
    assert plan_images(refs, have_agnhost=True).missing == refs  # no compiler, no image
    plan = plan_images(refs, have_agnhost=False, have_compiler=True)
    assert [(p.recipe, p.kind) for p in plan.provided] == [("nonewprivs", "substitute")]
    (spec,) = image_specs(plan, None)
    assert spec.entrypoint == ["/usr/local/bin/nnp"]
    program = next(f for f in spec.files if f.path == "usr/local/bin/nnp")
    assert program.mode == 0o4755
    binary = tmp_path / "nnp"
    binary.write_bytes(program.data or b"")
    binary.chmod(0o755)
    ran = subprocess.run([str(binary)], capture_output=True, text=True, check=True)
    assert ran.stdout == f"Effective uid: {os.geteuid()}\n"
