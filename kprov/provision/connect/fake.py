"""A scripted connector for unit tests: records every call, answers from a script.

    fake = FakeConnector()
    fake.on(r"^systemctl show", stdout="ActiveState=active\n")
    fake.files["/etc/x"] = b"old"

``on(pattern, ...)`` adds a rule (regex searched in the command, first added rule that
matches wins; ``times=n`` retires it after n uses); a rule's answer may be a callable
``(cmd, stdin) -> CommandResult`` for stateful scripts. A command no rule matches raises
``UnscriptedCommand`` so a test never silently passes on a command it did not foresee.
``put``/``get`` work on the in-memory ``files`` dict; ``puts`` records every write.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from kprov.provision.connect.base import CommandResult, Connector, UnreachableError

__all__ = ["FakeConnector", "RecordedCommand", "RecordedPut", "UnscriptedCommand"]

Answer = CommandResult | Callable[[str, bytes | None], CommandResult]


class UnscriptedCommand(AssertionError):
    """The code under test ran a command the test's script has no answer for."""


@dataclass(frozen=True)
class RecordedCommand:
    cmd: str
    become: bool
    become_user: str | None
    stdin: bytes | None


@dataclass(frozen=True)
class RecordedPut:
    path: str
    data: bytes
    mode: int | None
    owner: str | None
    group: str | None


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    answer: Answer
    times: int | None


@dataclass
class FakeConnector(Connector):
    host: str = "fake"
    unreachable: bool = False
    files: dict[str, bytes] = field(default_factory=dict)
    commands: list[RecordedCommand] = field(default_factory=list)
    puts: list[RecordedPut] = field(default_factory=list)
    connected: bool = False
    _rules: list[_Rule] = field(default_factory=list)

    def on(
        self,
        pattern: str,
        answer: Answer | None = None,
        *,
        rc: int = 0,
        stdout: str = "",
        stderr: str = "",
        times: int | None = None,
    ) -> FakeConnector:
        result = answer if answer is not None else CommandResult(rc, stdout, stderr, 0.0)
        self._rules.append(_Rule(re.compile(pattern, re.S), result, times))
        return self

    def connect(self) -> None:
        if self.unreachable:
            raise UnreachableError(self.host, "scripted as unreachable")
        self.connected = True

    def close(self) -> None:
        self.connected = False

    def run(
        self,
        cmd: str,
        *,
        become: bool = False,
        become_user: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        self.connect()
        self.commands.append(RecordedCommand(cmd, become, become_user, stdin))
        for rule in self._rules:
            if rule.times == 0 or not rule.pattern.search(cmd):
                continue
            if rule.times is not None:
                rule.times -= 1
            return rule.answer(cmd, stdin) if callable(rule.answer) else rule.answer
        raise UnscriptedCommand(f"fake connector {self.host}: no scripted answer for command:\n{cmd}")

    def put(
        self,
        data: bytes,
        path: str,
        *,
        mode: int | None = None,
        become: bool = False,
        owner: str | None = None,
        group: str | None = None,
    ) -> None:
        self.connect()
        self.puts.append(RecordedPut(path, data, mode, owner, group))
        self.files[path] = data

    def get(self, path: str, *, become: bool = False) -> bytes:
        self.connect()
        if path not in self.files:
            raise FileNotFoundError(path)
        return self.files[path]

    @property
    def command_lines(self) -> list[str]:
        return [c.cmd for c in self.commands]
