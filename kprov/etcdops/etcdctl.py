"""etcdctl (API v3) on a member, over the engine's connector, with parsed JSON results.

Commands go through ``kprov-etcdctl`` (installed by the etcd role), which sets
``ETCDCTL_API=3`` and the admin client certificate; etcd is reached from the member itself,
so the operator machine needs only SSH to the hosts. Parsers are pure functions over
etcdctl's ``-w json`` output (numbers are uint64 member ids).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from kprov.provision.connect.base import CommandResult, Connector

__all__ = [
    "ETCDCTL",
    "EndpointHealth",
    "EndpointStatus",
    "EtcdctlError",
    "Etcdctl",
    "MemberInfo",
    "parse_endpoint_health",
    "parse_endpoint_status",
    "parse_member_list",
]

ETCDCTL = "/usr/local/bin/kprov-etcdctl"
_TIMEOUTS = ("--dial-timeout=2s", "--command-timeout=5s")


class EtcdctlError(RuntimeError):
    def __init__(self, host: str, args: str, result: CommandResult) -> None:
        detail = (result.stderr or result.stdout).strip().splitlines()
        super().__init__(f"{host}: etcdctl {args} failed (rc={result.rc}): {detail[-1] if detail else ''}")
        self.result = result


@dataclass(frozen=True)
class MemberInfo:
    member_id: int
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]


@dataclass(frozen=True)
class EndpointStatus:
    endpoint: str
    member_id: int
    leader_id: int
    version: str
    db_size: int
    raft_index: int
    raft_term: int


@dataclass(frozen=True)
class EndpointHealth:
    endpoint: str
    healthy: bool
    took: str = ""
    error: str = ""


def _json(text: str) -> Any:
    """etcdctl's ``-w json`` output (one JSON document on stdout); None when empty."""
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"etcdctl printed something that is not JSON: {text[:200]!r}") from e


def parse_member_list(text: str) -> list[MemberInfo]:
    data = _json(text) or {}
    return [
        MemberInfo(
            int(m["ID"]), m.get("name", ""), tuple(m.get("peerURLs") or ()), tuple(m.get("clientURLs") or ())
        )
        for m in data.get("members", [])
    ]


def parse_endpoint_status(text: str) -> list[EndpointStatus]:
    out = []
    for entry in _json(text) or []:
        st = entry["Status"]
        out.append(
            EndpointStatus(
                entry["Endpoint"], int(st["header"]["member_id"]), int(st["leader"]), st["version"],
                int(st["dbSize"]), int(st["raftIndex"]), int(st["raftTerm"]),
            )
        )
    return out


def parse_endpoint_health(text: str) -> list[EndpointHealth]:
    return [
        EndpointHealth(e["endpoint"], bool(e["health"]), e.get("took", ""), e.get("error", ""))
        for e in _json(text) or []
    ]


class Etcdctl:
    """etcdctl on one member host."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    @property
    def host(self) -> str:
        return self.connector.host

    def run(self, *args: str, endpoints: list[str] | None = None, timeout: float = 60) -> CommandResult:
        words = [ETCDCTL, *_TIMEOUTS]
        if endpoints:
            words.append("--endpoints=" + ",".join(endpoints))
        words += args
        return self.connector.run(shlex.join(words), become=True, timeout=timeout)

    def check(self, *args: str, endpoints: list[str] | None = None, timeout: float = 60) -> str:
        result = self.run(*args, endpoints=endpoints, timeout=timeout)
        if not result.ok:
            raise EtcdctlError(self.host, " ".join(args), result)
        return result.stdout

    def local_healthy(self) -> bool:
        """This member answers a linearizable read (it is part of a quorum)."""
        return self.run("endpoint", "health", timeout=30).ok

    def member_list(self) -> list[MemberInfo]:
        return parse_member_list(self.check("member", "list", "-w", "json"))

    def endpoint_status(self, endpoints: list[str]) -> list[EndpointStatus]:
        # Unreachable endpoints are reported on stderr (and rc=1); the others still parse.
        return parse_endpoint_status(self.run("endpoint", "status", "-w", "json", endpoints=endpoints).stdout)

    def endpoint_health(self, endpoints: list[str]) -> list[EndpointHealth]:
        return parse_endpoint_health(self.run("endpoint", "health", "-w", "json", endpoints=endpoints).stdout)

    def member_add(self, name: str, peer_url: str) -> None:
        self.check("member", "add", name, f"--peer-urls={peer_url}")

    def member_remove(self, member_id: int) -> None:
        self.check("member", "remove", f"{member_id:x}")

    def defrag(self, endpoint: str) -> None:
        """Rewrite ``endpoint``'s database file (it answers nothing meanwhile: minutes if big)."""
        self.check("defrag", "--command-timeout=600s", endpoints=[endpoint], timeout=660)

    def snapshot_save(self, path: str) -> None:
        self.check("snapshot", "save", path, timeout=600)
