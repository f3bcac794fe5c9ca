"""The suite's binaries as they are shipped: ``e2e.test`` and ``agnhost`` may be given gzipped
(``e2e.test.gz``, as upstream's release tarballs and ../shared/conformance carry them) and are
unpacked, executable, into the run's directory; a plain binary is used where it is.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

__all__ = ["executable"]


def executable(binary: Path, workdir: Path) -> Path:
    """``binary`` itself, or for ``NAME.gz`` an unpacked executable ``workdir/NAME``."""
    if binary.suffix != ".gz":
        return binary
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / binary.stem
    with gzip.open(binary, "rb") as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
    target.chmod(0o755)
    return target
