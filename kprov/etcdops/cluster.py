"""The etcd cluster of an inventory as the operator sees it: its hosts, SSH sessions to them
(the engine's connectors, reached as every run reaches a host: connection variables
templated in the inventory's scope, :mod:`kprov.provision.connect.reach`), an *anchor* member
to run etcdctl on, and the live member view (member list + per-endpoint health and status)
that status and membership changes use.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kprov.etcdops.etcdctl import Etcdctl, EtcdctlError, MemberInfo
from kprov.etcdops.quorum import LiveMember
from kprov.provision.connect.base import ConnectionFailure, Connector
from kprov.provision.connect.reach import connection_vars, inventory_scope
from kprov.provision.connect.transports import connector_for
from kprov.provision.inventory import Inventory, load_inventory
from kprov.provision.templates import TemplateEngine, VarScope

__all__ = [
    "CLIENT_PORT",
    "DEFAULT_DATA_DIR",
    "ETCD_GROUP",
    "PEER_PORT",
    "SERVICE",
    "EtcdCluster",
    "EtcdOpsError",
    "MemberView",
]

ETCD_GROUP = "etcd"
SERVICE = "kprov-etcd"
DEFAULT_DATA_DIR = "/var/lib/kprov/etcd"
CLIENT_PORT = 2379
PEER_PORT = 2380


class EtcdOpsError(RuntimeError):
    """An etcd operation cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class MemberView:
    """One member: identity from ``member list``, health and status from its endpoint."""

    info: MemberInfo
    healthy: bool
    is_leader: bool = False
    version: str = ""
    db_size: int = 0
    raft_index: int = 0
    error: str = ""
    took: str = ""  # the health check's linearizable read, as etcdctl prints it ("1.2ms")

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def endpoint(self) -> str:
        return self.info.client_urls[0] if self.info.client_urls else ""

    def as_live(self) -> LiveMember:
        info = self.info
        return LiveMember(info.member_id, info.name, info.peer_urls, self.healthy, self.is_leader)


class EtcdCluster:
    """Operations context for one inventory; close it (or use ``with``) to end SSH sessions."""

    def __init__(
        self,
        inventory_path: str | Path,
        connect: Callable[[str, Mapping[str, Any]], Connector] = connector_for,
    ) -> None:
        self.inventory_path = Path(inventory_path)
        self.inventory: Inventory = load_inventory(inventory_path)
        self._connect = connect
        self._sessions: dict[str, Connector] = {}
        self._engine = TemplateEngine()
        self._scopes: dict[str, VarScope] = {}
        self.group = self.inventory.members(ETCD_GROUP)
        if not self.group:
            raise EtcdOpsError(f"{inventory_path}: no hosts in the '{ETCD_GROUP}' group")

    def __enter__(self) -> EtcdCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()

    # -- hosts -----------------------------------------------------------------------------
    def host_vars(self, host: str) -> dict[str, Any]:
        if host not in self.inventory.hosts:
            raise EtcdOpsError(f"{host} is not a host of {self.inventory_path}")
        return self.inventory.host_vars(host)

    def _scope(self, host: str) -> VarScope:
        """The host's variables with templates rendered (``{{ }}`` in ``ansible_host`` ...)."""
        if host not in self._scopes:
            self.host_vars(host)  # an unknown host fails here, with the inventory named
            self._scopes[host] = inventory_scope(self.inventory, host, self._engine)
        return self._scopes[host]

    def address(self, host: str) -> str:
        scope = self._scope(host)
        return str(scope.get("etcd_address") or scope.get("ansible_host") or host)

    def peer_url(self, host: str) -> str:
        return f"https://{self.address(host)}:{PEER_PORT}"

    def client_url(self, host: str) -> str:
        return f"https://{self.address(host)}:{CLIENT_PORT}"

    def data_dir(self, host: str) -> str:
        return str(self.host_vars(host).get("etcd_data_dir", DEFAULT_DATA_DIR))

    def host_of(self, member: MemberInfo) -> str | None:
        """The inventory host of a live member: by name, else by peer URL."""
        if member.name in self.inventory.hosts:
            return member.name
        for host in self.inventory.hosts:
            if self.peer_url(host) in member.peer_urls:
                return host
        return None

    def session(self, host: str) -> Connector:
        if host not in self._sessions:
            variables = connection_vars(host, self.host_vars(host), self._scope(host).template)
            connector = self._connect(host, variables)
            connector.connect()
            self._sessions[host] = connector
        return self._sessions[host]

    def etcdctl(self, host: str) -> Etcdctl:
        return Etcdctl(self.session(host))

    # -- the live cluster ------------------------------------------------------------------
    def anchor(self, exclude: tuple[str, ...] = ()) -> Etcdctl:
        """etcdctl on the first reachable host whose member serves (etcd group first)."""
        others = [h for h in self.inventory.hosts if h not in self.group]
        tried: list[str] = []
        for host in [*self.group, *others]:
            if host in exclude:
                continue
            try:
                ctl = self.etcdctl(host)
                if ctl.local_healthy():
                    return ctl
                tried.append(f"{host}: member not serving")
            except ConnectionFailure as e:
                tried.append(f"{host}: {e.message}")
        raise EtcdOpsError("no healthy etcd member reachable (" + "; ".join(tried) + ")")

    def members(self, ctl: Etcdctl) -> list[MemberView]:
        """Every member with its health, leadership and status, as seen from ``ctl``'s host."""
        infos = ctl.member_list()
        endpoints = [url for m in infos for url in m.client_urls[:1]]
        health = {h.endpoint: h for h in ctl.endpoint_health(endpoints)} if endpoints else {}
        status = {s.member_id: s for s in ctl.endpoint_status(endpoints)} if endpoints else {}
        leader_ids = {s.leader_id for s in status.values()}
        views = []
        for info in infos:
            st = status.get(info.member_id)
            hl = health.get(info.client_urls[0]) if info.client_urls else None
            healthy = bool(hl and hl.healthy)
            error = "" if healthy else (hl.error if hl else "not started" if not info.name else "no answer")
            views.append(
                MemberView(
                    info, healthy, info.member_id in leader_ids, st.version if st else "",
                    st.db_size if st else 0, st.raft_index if st else 0, error, hl.took if hl else "",
                )
            )
        return views

    def wait_healthy(self, ctl: Etcdctl, attempts: int = 30, delay_s: float = 2.0) -> list[MemberView]:
        """Wait until every member is healthy; the last view, or EtcdOpsError."""
        views: list[MemberView] = []
        for _ in range(attempts):
            try:
                views = self.members(ctl)
            except EtcdctlError:
                views = []
            if views and all(v.healthy for v in views):
                return views
            time.sleep(delay_s)
        sick = ", ".join(f"{v.name or v.info.member_id}: {v.error}" for v in views if not v.healthy)
        raise EtcdOpsError(f"the etcd cluster did not become healthy ({sick or 'no member list'})")
