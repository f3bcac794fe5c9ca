"""The error of an operator-side build (kprov's wheelhouse and runtime), in one line.

The wheelhouse and the runtime are built by running pip (and ``python -m venv``) on the
operator's machine; when one of those commands fails, what the operator needs is which build
failed, the command, pip's last word on why, and what to do — not a Python traceback with
pip's whole error output. :class:`BuildError` keeps the command's full output (``detail``)
for whoever wants it and gives :meth:`BuildError.one_line` for the console.

It subclasses ``RuntimeError``: callers that caught the builds' ``RuntimeError`` before this
type existed (``kprov bundle``, ``kprov prepare``, ``kprov local``) still catch it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BuildError"]

_PIP_COMMANDS = ("wheel", "install", "uninstall", "download")
_HINT = ("check that this machine reaches PyPI (or the index or proxy pip is configured with) "
         "and has free disk space, then run the command again")


class BuildError(RuntimeError):
    """``what`` (e.g. "kprov's runtime") could not be built: ``command`` failed with ``detail``."""

    def __init__(self, what: str, command: list[str], detail: str) -> None:
        super().__init__(f"{' '.join(command)} failed:\n{detail}" if command else detail)
        self.what, self.command, self.detail = what, command, detail

    def reason(self) -> str:
        """The last meaningful line of the command's output (pip ends with its error)."""
        lines = [line.strip() for line in self.detail.splitlines() if line.strip()]
        return lines[-1] if lines else "no output"

    def step(self) -> str:
        """The command by its name (``pip wheel``, ``venv``, ``python -c``), not the
        interpreter's path and every option."""
        if not self.command:
            return ""
        name, rest = Path(self.command[0]).name, self.command[1:]
        if rest[:1] == ["-c"]:
            return f"{name} -c"
        if rest[:1] == ["-m"] and len(rest) > 1:
            name, rest = rest[1], rest[2:]
        sub = next((a for a in rest if a in _PIP_COMMANDS), None) if name == "pip" else None
        return f"{name} {sub}" if sub else name

    def one_line(self) -> str:
        said = f"`{self.step()}` said: " if self.command else ""
        return f"building {self.what} failed: {said}{self.reason()}; {_HINT}"
