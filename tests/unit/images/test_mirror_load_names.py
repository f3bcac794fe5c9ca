"""``mirror_load --record-names``: an archive's names are listed beside it only once every
one of its images is in the mirror (the registry role's query trusts that list)."""

from __future__ import annotations

import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kprov.images import mirror_load
from kprov.images.oci import FileEntry, ImageSpec, build_multi_archive


class _Loader(http.server.BaseHTTPRequestHandler):
    held: set[str] = set()

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200 if self.path in self.held else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def loader() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Loader)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _archive(tmp_path: Path) -> Path:
    path = tmp_path / "a.tar"
    build_multi_archive([ImageSpec(ref, files=[FileEntry("f", data=b"x")])
                         for ref in ("busybox:1.36", "registry.k8s.io/pause:3.9")], path)
    return path


def test_names_recorded_when_all_present(tmp_path: Path, loader: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    archive = _archive(tmp_path)
    _Loader.held = {"/v2/docker.io/library/busybox/manifests/1.36", "/v2/registry.k8s.io/pause/manifests/3.9"}
    assert mirror_load.main(["--loader", loader, str(archive)]) == 0
    assert not mirror_load.names_file(archive).exists()  # only when asked
    assert mirror_load.main(["--record-names", "--loader", loader, str(archive)]) == 0
    listed = mirror_load.names_file(archive).read_text()
    assert listed == "docker.io/library/busybox:1.36\nregistry.k8s.io/pause:3.9\n"
    assert "present registry.k8s.io/pause:3.9" in capsys.readouterr().out


def test_no_list_while_an_image_is_missing(tmp_path: Path, loader: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    archive = _archive(tmp_path)
    mirror_load.names_file(archive).write_text("stale\n")
    _Loader.held = {"/v2/docker.io/library/busybox/manifests/1.36"}
    failed = subprocess.CompletedProcess([], 1, "", "copy refused")
    monkeypatch.setattr(mirror_load.subprocess, "run", lambda *a, **k: failed)
    assert mirror_load.main(["--record-names", "--loader", loader, str(archive)]) == 1
    assert not mirror_load.names_file(archive).exists()  # the stale list is gone too
