"""Regenerate the committed CRI stubs from ``api.proto`` (a developer tool, not used at run time).

``python -m kprov.cluster.kubelet.cri.codegen`` runs grpcio-tools' protoc on ``api.proto`` and
writes ``generated/api_pb2.py``, ``api_pb2.pyi`` and ``api_pb2_grpc.py``. protoc emits a
top-level ``import api_pb2`` in the gRPC module; it is rewritten to a package import so the
stubs work from inside kprov without touching ``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["generate"]

CRI_DIR = Path(__file__).resolve().parent
OUT_DIR = CRI_DIR / "generated"
PACKAGE = "kprov.cluster.kubelet.cri.generated"


def generate() -> None:
    from grpc_tools import protoc  # test/dev dependency only

    OUT_DIR.mkdir(exist_ok=True)
    args = [
        "protoc",
        f"-I{CRI_DIR}",
        f"--python_out={OUT_DIR}",
        f"--pyi_out={OUT_DIR}",
        f"--grpc_python_out={OUT_DIR}",
        str(CRI_DIR / "api.proto"),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed on api.proto")
    grpc_module = OUT_DIR / "api_pb2_grpc.py"
    text = grpc_module.read_text()
    grpc_module.write_text(
        text.replace("import api_pb2 as api__pb2", f"from {PACKAGE} import api_pb2 as api__pb2")
    )
    init = OUT_DIR / "__init__.py"
    init.write_text('"""Generated CRI v1 stubs (see ../codegen.py); do not edit."""\n')


if __name__ == "__main__":
    generate()
    sys.exit(0)
