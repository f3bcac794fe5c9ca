"""``kprov images push`` and ``load`` over the engine's connectors (scripted here): the archive
goes up through the connector's put, the import or load runs through sudo as one ``sh -c``
(its ``exit`` ends that shell, never the session's), and a host that cannot be reached is
one failed row while the others still get the images."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from kprov.images import mirror
from kprov.images.push import SSHTarget, import_command, push_archive
from kprov.provision.connect.fake import FakeConnector


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeConnector]:
    sessions = {"h1": FakeConnector("h1"), "h2": FakeConnector("h2", unreachable=True)}
    monkeypatch.setattr(SSHTarget, "connector", lambda self: sessions[self.name])
    return sessions


def test_push_puts_the_archive_and_imports_it_as_root(
        tmp_path: Path, fakes: dict[str, FakeConnector]) -> None:
    archive = tmp_path / "img.tar"
    archive.write_bytes(b"oci archive bytes")
    fakes["h1"].on(r"images import", stdout="unpacking kprov.local/busybox:1...done\n")
    results = push_archive([SSHTarget("h1"), SSHTarget("h2")], archive)
    assert [(r.host, r.ok) for r in results] == [("h1", True), ("h2", False)]
    assert "unpacking" in results[0].output and "unreachable" in results[1].output
    (put,) = fakes["h1"].puts
    assert put.data == b"oci archive bytes" and put.path.startswith("/tmp/kprov-image-")
    (command,) = fakes["h1"].commands
    assert command.become and command.cmd == "sh -c " + shlex.quote(import_command(put.path))
    assert not fakes["h1"].connected  # the session ends with the upload


def test_load_makes_the_upload_directory_then_loads_every_archive(
        tmp_path: Path, fakes: dict[str, FakeConnector], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mirror, "archive_images", lambda path: ["busybox"])
    archives = [tmp_path / "a.tar", tmp_path / "b.tar"]
    for archive in archives:
        archive.write_bytes(archive.name.encode())
    fakes["h1"].on(r"^install -d", stdout="").on(r"mirror_load", rc=1, stderr="skopeo failed")
    (result,) = mirror.load_archives([SSHTarget("h1")], archives)
    assert (result.ok, result.output) == (False, "skopeo failed")
    assert [(p.path, p.data) for p in fakes["h1"].puts] == [
        (f"{mirror.REMOTE_DIR}/0-a.tar", b"a.tar"), (f"{mirror.REMOTE_DIR}/1-b.tar", b"b.tar")]
    made, loaded = fakes["h1"].commands
    assert made.become and loaded.become
    assert loaded.cmd == "sh -c " + shlex.quote(mirror.load_command([p.path for p in fakes["h1"].puts]))
