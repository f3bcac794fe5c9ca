"""Docker Hub's nginx stand-in serves nginx's document root as the real image does (client
suites write files there and fetch them, or look for the welcome heading); the e2e suite's
nginx stays agnhost's netexec."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.images.offline import PlannedImage, image_roots, standin_recipe, standin_spec
from kprov.images.recipes import BUSYBOX_PATH

pytestmark = pytest.mark.skipif(not BUSYBOX_PATH.exists(), reason="needs Debian's busybox-static")


def _spec(reference: str, repo: str, tmp_path: Path) -> tuple[str, list[str], dict[str, bytes | None]]:
    agnhost = tmp_path / "agnhost"
    agnhost.write_bytes(b"#!/bin/sh\n")
    recipe = standin_recipe(repo, have_agnhost=True)
    assert recipe is not None
    spec = standin_spec(PlannedImage(reference, *recipe), image_roots(agnhost))
    assert spec is not None
    return recipe[0], spec.entrypoint or [], {f.path: f.data for f in spec.files}


def test_docker_hubs_nginx_serves_its_document_root_with_busybox_httpd(tmp_path: Path) -> None:
    for reference, repo in (("docker.io/library/nginx:latest", "library/nginx"), ("nginx", "nginx")):
        recipe, entrypoint, files = _spec(reference, repo, tmp_path)
        assert recipe == "nginx-standin"
        assert entrypoint == ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/usr/share/nginx/html"]
        assert b"<h1>Welcome to nginx!</h1>" in (files["usr/share/nginx/html/index.html"] or b"")
        assert "bin/busybox" in files and "bin/sh" in files  # dd and sh for what clients exec there


def test_the_e2e_suites_nginx_stays_netexec(tmp_path: Path) -> None:
    reference = "registry.k8s.io/e2e-test-images/nginx:1.15-4"
    recipe, entrypoint, _ = _spec(reference, "e2e-test-images/nginx", tmp_path)
    assert recipe == "http-standin" and entrypoint == ["/agnhost", "netexec", "--http-port=80"]
