"""paramiko, imported without its optional invoke integration.

``paramiko.config`` imports invoke (a task runner: dozens of modules with its own vendored
YAML) when paramiko is imported, only to run the ``Match exec`` lines of an OpenSSH config
file. kprov never evaluates one with paramiko (its connection settings come from the
inventory; verify's generated ssh_config has none), yet the import cost every ``kprov
apply`` CPU on the operator's machine before the first host is connected: invoke was about
as much as paramiko itself (figures: docs/decisions/0051-figures-live-in-records.md). So
the connectors import paramiko from here,
with invoke hidden for that import only: afterwards ``import invoke`` works as usual, and
paramiko raises its own ImportError should a ``Match exec`` line ever be evaluated.
"""

from __future__ import annotations

import sys

if "paramiko" not in sys.modules and "invoke" not in sys.modules:
    sys.modules["invoke"] = None  # type: ignore[assignment]  # makes `import invoke` fail
    try:
        import paramiko
    finally:
        del sys.modules["invoke"]

import paramiko  # noqa: E402 - the guarded import above made it (or someone did before)

__all__ = ["paramiko"]
