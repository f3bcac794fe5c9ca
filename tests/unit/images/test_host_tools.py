"""The tools put into the suite's image roots work there: the root written out and entered
with chroot, dig and getent run from their shared objects only, and /bin/sh passes on
variables whose names are not shell identifiers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kprov.images.host_tools import (
    AGNHOST_TOOLS,
    ENV_KEEPING_SHELL,
    with_agnhost_tools,
    with_env_keeping_shell,
)
from kprov.images.offline import PlannedImage, image_roots, standin_recipe, standin_spec
from kprov.images.recipes import busybox_files
from tests.unit.conformance._image_root import write_root

CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
_HAVE_TOOLS = all(t.is_file() for t in (*AGNHOST_TOOLS, ENV_KEEPING_SHELL))
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not _HAVE_TOOLS,
                                reason="needs root (chroot) and the tools .ci/setup installs")


def _chroot(root: Path, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHROOT, str(root), *command], capture_output=True, text=True, timeout=30,
                          env=env or {"PATH": "/bin:/usr/bin"})


def test_the_agnhost_tools_run_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_root(with_agnhost_tools(busybox_files()), root)
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n10.1.2.3 web.example\n")
    assert _chroot(root, "getent", "hosts", "web.example").stdout.split() == ["10.1.2.3", "web.example"]
    version = _chroot(root, "dig", "-v")
    assert version.returncode == 0 and "DiG 9." in version.stdout + version.stderr, version.stderr
    assert _chroot(root, "curl", "--version").stdout.startswith("curl ")
    assert not (root / "bin/nc").is_symlink()  # OpenBSD nc, not busybox's: -z and -v
    assert "OpenBSD netcat" in _chroot(root, "nc", "-h").stderr
    # util-linux nsenter: what it runs is the target namespace's own program, not a busybox applet
    assert not (root / "bin/nsenter").is_symlink()
    (root / "proc").mkdir(exist_ok=True)
    script = (f"mount -t proc proc {root}/proc && chroot {root} "  # (entering the outer shell's namespace)
              "nsenter --mount=/proc/$$/ns/mnt -- sh -c 'losetup --version'")
    entered = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                             timeout=30, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert entered.stdout.startswith("losetup from util-linux"), entered.stdout + entered.stderr


def test_the_shell_passes_on_variables_whose_names_are_not_identifiers(tmp_path: Path) -> None:
    root = tmp_path / "root"
    files = busybox_files()
    write_root(files, root)
    assert "p-data-1=x" not in _chroot(root, "sh", "-c", "env", env={"PATH": "/bin", "p-data-1": "x"}).stdout
    root = tmp_path / "ash-root"
    write_root(with_env_keeping_shell(files), root)
    assert "p-data-1=x" in _chroot(root, "sh", "-c", "env", env={"PATH": "/bin", "p-data-1": "x"}).stdout


def test_the_shell_words_a_read_only_error_as_busybox_does(tmp_path: Path) -> None:
    """The conformance spec "a read only busybox container" compares this text exactly."""
    root = tmp_path / "root"
    write_root(with_env_keeping_shell(busybox_files()), root)
    (root / "ro").mkdir()
    script = f"mount -t tmpfs -o ro tmpfs {root}/ro && chroot {root} /bin/sh -c 'echo test > /ro/file'"
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert done.returncode != 0
    assert done.stderr == "/bin/sh: can't create /ro/file: Read-only file system\n", done.stderr


def test_the_shells_echo_takes_options_as_busyboxs_does(tmp_path: Path) -> None:
    """The official Python client's exec test pipes ``echo -n ...`` into gzip and compares."""
    root = tmp_path / "root"
    write_root(with_env_keeping_shell(busybox_files()), root)
    assert _chroot(root, "/bin/sh", "-c", 'echo -n "a b"; echo -e "|\\tc"').stdout == "a b|\tc\n"


def test_the_agnhost_standins_bash_runs_the_e2e_specs_scripts(tmp_path: Path) -> None:
    """Upstream's agnhost image has /bin/bash, and e2e specs run their scripts with it (a trap
    on SIGTERM, a function, ``[[ ]]``); the stand-in's is the ash built here, answering as bash."""
    agnhost = tmp_path / "agnhost"
    agnhost.write_bytes(b"#!/bin/sh\n")
    recipe = standin_recipe("e2e-test-images/agnhost", have_agnhost=True)
    assert recipe is not None
    spec = standin_spec(PlannedImage("registry.k8s.io/e2e-test-images/agnhost:2.45", *recipe),
                        image_roots(agnhost))
    assert spec is not None
    root = tmp_path / "root"
    write_root(spec.files, root)
    script = "_term() { echo term; }\ntrap _term SIGTERM\n[[ -n x ]] && echo -n ok"
    done = _chroot(root, "/bin/bash", "-c", script)
    assert (done.returncode, done.stdout) == (0, "ok"), done.stderr
    plain = standin_recipe("busybox", have_agnhost=True)
    assert plain is not None
    busybox = standin_spec(PlannedImage("busybox:1.36", *plain), image_roots(agnhost))
    assert busybox is not None and "bin/bash" not in {f.path for f in busybox.files}  # as upstream's
