"""A module's work as one host-side script, for tasks with ``async`` (execute.async_jobs).

A module that can run detached offers ``detach(ctx, args)``: it reads the host as its ``run``
does, then returns either a finished ``ModuleResult`` (nothing to run: already in state,
``creates`` met, check mode) or a :class:`Detached` — the one shell script that does the work,
and ``finish``, which turns what that script printed (read later, from the job's files) into
the module's result, exactly as ``run`` would have reported it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.base import ModuleResult

__all__ = ["Detached", "Finisher"]

Finisher = Callable[[CommandResult], ModuleResult]


@dataclass(frozen=True)
class Detached:
    """The script that does a module's work, and how its output becomes the module's result."""

    script: str
    finish: Finisher
