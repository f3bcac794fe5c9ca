"""A single-machine control plane on loopback: etcd, the API server, and (when installed)
the scheduler and controller manager, each a detached process under one directory.

``LocalControlPlane(dir).up()`` starts what is not running and returns :class:`LocalInfo`
(URLs, kubeconfig paths); ``down()`` stops everything (components first, etcd last);
``status()`` says what runs. The state (ports, paths) is kept in ``<dir>/state.json`` so
``down``/``status`` work from another process. ``etcd_members``/``apiservers`` > 1 run a
highly available shape on one machine (the density bench's 3 etcd members and 2 API
servers): API server ``i`` is the process ``apiserver`` (i = 0) or ``apiserver-<i>`` on its
own port, each talking to every etcd member; ``kubeconfig_for(..., server_index=i)`` points a
client at one of them. Components are a list of
:class:`Component` entries: adding one (e.g. a future component) is adding a line.
"""

from __future__ import annotations

import importlib.util
import json
import ssl
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from kprov.local.certs import LocalPki, ensure_pki, write_identity_kubeconfig
from kprov.local.etcd import start_etcd_cluster
from kprov.local.ports import free_port
from kprov.local.processes import is_running, start_detached, started_names, stop_process
from kprov.pki import ADMIN_CN, CONTROLLER_MANAGER_CN, MASTERS_GROUP, SCHEDULER_CN

_START_ATTEMPTS = 3


class ServerExited(RuntimeError):
    """A local API server process ended before it answered /readyz."""

__all__ = ["DEFAULT_DIR", "COMPONENTS", "Component", "LocalControlPlane", "LocalInfo", "apiserver_argv"]

DEFAULT_DIR = Path("/var/lib/kprov/local")


def apiserver_argv(
    pki: LocalPki, etcd_url: str, port: int, *extra: str, service_account_admission: bool = False
) -> list[str]:
    """The command line of a loopback kprov-apiserver serving the local PKI on ``port``.
    ``service_account_admission`` only with a controller manager beside it: without one no
    namespace gets its ``default`` ServiceAccount and the plugin would refuse every pod."""
    disabled = [] if service_account_admission else ["--disable-admission-plugins", "ServiceAccount"]
    return [
        sys.executable, "-m", "kprov.cluster.apiserver",
        "--etcd-servers", etcd_url,
        "--tls-cert-file", pki.path("apiserver", "crt"),
        "--tls-private-key-file", pki.path("apiserver", "key"),
        "--client-ca-file", pki.path("ca", "crt"),
        "--bind-address", "127.0.0.1",
        "--secure-port", str(port),
        "--encryption-provider-config", pki.encryption_config,
        "--service-account-key-file", pki.path("sa", "pub"),
        "--service-account-signing-key-file", pki.path("sa", "key"),
        "--proxy-client-cert-file", pki.path("front-proxy-client", "crt"),
        "--proxy-client-key-file", pki.path("front-proxy-client", "key"),
        "--requestheader-client-ca-file", pki.path("front-proxy-ca", "crt"),
        "--requestheader-allowed-names", "front-proxy-client",
        "--enable-admission-plugins", "NodeRestriction",  # as kubeadm (upstream: off by default)
        *disabled,
        *extra,
    ]


@dataclass(frozen=True)
class Component:
    """A client component started with ``python -m <module> --kubeconfig <its identity>``."""

    name: str
    module: str
    user: str
    groups: tuple[str, ...] = ()
    args: tuple[str, ...] = ()

    def installed(self) -> bool:
        try:
            return importlib.util.find_spec(f"{self.module}.__main__") is not None
        except ModuleNotFoundError:
            return False


COMPONENTS: tuple[Component, ...] = (
    Component("scheduler", "kprov.cluster.scheduler", SCHEDULER_CN),
    Component(
        "controller-manager", "kprov.cluster.controllers", CONTROLLER_MANAGER_CN,
        args=("--use-service-account-credentials=true",),
    ),
)


@dataclass(frozen=True)
class LocalInfo:
    dir: str
    etcd_url: str
    server: str  # https://127.0.0.1:<port>
    admin_kubeconfig: str
    ca_file: str
    components: tuple[str, ...]
    servers: tuple[str, ...] = ()  # every API server (``server`` is the first); empty in old state files

    @property
    def all_servers(self) -> tuple[str, ...]:
        return self.servers or (self.server,)


class LocalControlPlane:
    def __init__(
        self,
        directory: str | Path = DEFAULT_DIR,
        components: tuple[Component, ...] = COMPONENTS,
        start_components: bool = True,
        apiserver_workers: int = 1,
        etcd_members: int = 1,
        apiservers: int = 1,
        apiserver_args: tuple[str, ...] = (),
    ) -> None:
        self.apiserver_args = apiserver_args  # e.g. a dual-stack --service-cluster-ip-range
        self.apiserver_workers = apiserver_workers
        self.etcd_members = max(1, etcd_members)
        self.apiservers = max(1, apiservers)
        self.dir = Path(directory)
        self.components = components if start_components else ()
        self.pki = LocalPki(self.dir)

    @property
    def _state_file(self) -> Path:
        return self.dir / "state.json"

    def _load_state(self) -> LocalInfo | None:
        try:
            data = json.loads(self._state_file.read_text())
            data["components"] = tuple(data.get("components", ()))
            data["servers"] = tuple(data.get("servers", ()))
            return LocalInfo(**data)
        except (OSError, ValueError, TypeError):
            return None

    def core_names(self) -> tuple[list[str], list[str]]:
        """(etcd members, API servers) started in this directory, member 0 / server 0 first."""
        started = started_names(self.dir)
        etcds = ["etcd", *sorted(n for n in started if n.startswith("etcd-"))]
        servers = ["apiserver", *sorted(n for n in started if n.startswith("apiserver-"))]
        return etcds, servers

    def status(self) -> dict[str, bool]:
        etcds, servers = self.core_names()
        names = [*etcds, *servers, *(c.name for c in COMPONENTS)]
        return {name: is_running(self.dir, name) for name in names}

    def info(self) -> LocalInfo | None:
        return self._load_state()

    def up(self, timeout_s: float = 60.0) -> LocalInfo:
        self.dir.mkdir(parents=True, exist_ok=True)
        state = self._load_state()
        if state is not None and is_running(self.dir, "etcd") and is_running(self.dir, "apiserver"):
            return state
        self.down()
        pki = ensure_pki(self.dir)
        members = start_etcd_cluster(self.dir, self.etcd_members)
        etcd_url = ",".join(m.url for m in members)
        with_accounts = any(c.name == "controller-manager" and c.installed() for c in self.components)
        servers = []
        for index in range(self.apiservers):
            # A port from free_port() is released before the server binds it, and another
            # process's outgoing connection (the other servers' etcd clients) may take it in
            # between: a server that exits while starting gets a fresh port, twice at most.
            for attempt in range(_START_ATTEMPTS):
                port = free_port()
                argv = apiserver_argv(pki, etcd_url, port, "--kubelet-client-certificate",
                                      pki.path("apiserver-kubelet-client", "crt"), "--kubelet-client-key",
                                      pki.path("apiserver-kubelet-client", "key"), "--advertise-address",
                                      "127.0.0.1", "--workers", str(self.apiserver_workers),
                                      *self.apiserver_args, service_account_admission=with_accounts)
                start_detached(self.dir, _server_name(index), argv)
                try:
                    self._wait_ready(f"https://127.0.0.1:{port}", pki, timeout_s, _server_name(index))
                    break
                except ServerExited:
                    stop_process(self.dir, _server_name(index))  # (never two servers left running)
                    if attempt == _START_ATTEMPTS - 1:
                        raise
            servers.append(f"https://127.0.0.1:{port}")
        server = servers[0]
        admin = write_identity_kubeconfig(pki, server, ADMIN_CN, [MASTERS_GROUP])
        started = []
        for component in self.components:
            if not component.installed():
                continue
            kubeconfig = write_identity_kubeconfig(pki, server, component.user, component.groups)
            start_detached(
                self.dir,
                component.name,
                [sys.executable, "-m", component.module, "--kubeconfig", str(kubeconfig), *component.args],
            )
            started.append(component.name)
        info = LocalInfo(str(self.dir), etcd_url, server, str(admin), pki.path("ca", "crt"), tuple(started),
                         tuple(servers))
        self._state_file.write_text(json.dumps(asdict(info), indent=2))
        return info

    def _wait_ready(self, server: str, pki: LocalPki, timeout_s: float, name: str = "apiserver") -> None:
        context = ssl.create_default_context(cafile=pki.path("ca", "crt"))
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            if not is_running(self.dir, name):
                raise ServerExited(f"the API server exited; see {self.dir}/logs/{name}.log")
            try:
                with urllib.request.urlopen(f"{server}/readyz", context=context, timeout=2) as reply:
                    if reply.read() == b"ok":
                        return
            except OSError as exc:
                last = str(exc)
            time.sleep(0.1)
        raise RuntimeError(
            f"the API server was not ready after {timeout_s:.0f}s ({last}); see {self.dir}/logs/{name}.log"
        )

    def kubeconfig_for(
        self, user: str, groups: tuple[str, ...] | list[str] = (), server_index: int = 0
    ) -> Path:
        """A kubeconfig for any identity (e.g. ``system:node:n1`` in ``system:nodes``), talking
        to API server ``server_index`` (modulo how many run)."""
        state = self._load_state()
        if state is None:
            raise RuntimeError(f"no local control plane in {self.dir}; run `kprov local up` first")
        servers = state.all_servers
        index = server_index % len(servers)
        file_name = user if index == 0 else f"{user}@{index}"
        return write_identity_kubeconfig(self.pki, servers[index], user, groups, file_name)

    def down(self) -> list[str]:
        """Stop every component (etcd last); returns the names that were running."""
        stopped = []
        etcds, servers = self.core_names()
        for name in [*(c.name for c in reversed(COMPONENTS)), *servers, *etcds]:
            if stop_process(self.dir, name):
                stopped.append(name)
        return stopped


def _server_name(index: int) -> str:
    return "apiserver" if index == 0 else f"apiserver-{index}"
