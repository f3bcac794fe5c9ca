"""The suite's ``nonewprivs`` image program, built on this machine: a setuid-root binary
that prints ``Effective uid: N``.

The security-context tests run it as uid 1000: with ``allowPrivilegeEscalation: false`` the
kernel's no_new_privs flag keeps the setuid bit from taking effect (it prints 1000), without
it the program runs as root (0). The real image's program does only that, so a five-line C
program compiled statically here (Debian's gcc and libc6-dev; no toolchain, no image) is a
faithful substitute.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["NNP_PATH", "build_nnp", "compiler"]

NNP_PATH = "usr/local/bin/nnp"
_SOURCE = b"""#include <stdio.h>
#include <unistd.h>
int main(void) {
    printf("Effective uid: %d\\n", (int)geteuid());
    return 0;
}
"""


def compiler() -> str | None:
    return shutil.which("cc") or shutil.which("gcc")


def build_nnp(cc: str | None = None) -> bytes:
    """The static binary's bytes; raises RuntimeError when it cannot be compiled here."""
    cc = cc or compiler()
    if cc is None:
        raise RuntimeError("no C compiler (cc) to build the nonewprivs program")
    with tempfile.TemporaryDirectory(prefix="kprov-nnp-") as work:
        source, binary = Path(work, "nnp.c"), Path(work, "nnp")
        source.write_bytes(_SOURCE)
        command = [cc, "-static", "-O2", "-s", "-o", str(binary), str(source)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"building the nonewprivs program failed: {done.stderr.strip()[-500:]}")
        return binary.read_bytes()
