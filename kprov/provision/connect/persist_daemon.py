"""The connection keeper: SSH sessions held open between runs (Ansible's ControlPersist).

OpenSSH's ControlPersist, Ansible's default for its ssh connection, keeps a master
connection per host for a while after a run, so the next run's commands skip the key
exchange, authentication, sshd's session set-up and PAM. kprov's transport is paramiko,
so it keeps its own: one process per operator user and installed kprov (started by the
first run that wants it, detached from it) holding one :class:`SSHConnector` per distinct
connection settings, serving runs over a Unix socket. Measured reason: a new connection costs a host CPU (PAM
a good part of it) and the operator its handshake, and a no-op ``kprov apply`` of 50 hosts
paid that 50 times on 2 shared cores (figures: docs/decisions/0051-figures-live-in-records.md).

- Socket: ``<dir>/keeper-<id>.sock``, one keeper per installed kprov (``persist.keeper_name``:
  runs of two trees never share one), mode 0600 in a 0700 directory owned by the user; a
  client whose peer uid differs is refused (SO_PEERCRED). The default directory is
  ``~/.kprov/cp`` (``KPROV_CONTROL_PATH_DIR`` overrides it; Ansible's is ~/.ansible/cp).
- One client connection is one run's session to one host. ``open`` names the settings
  (passwords included: the key is their hash, so a different password never reuses a
  session); then ``run``/``put``/``get`` are the :class:`Connector` calls, one at a time per
  held session (a per-session lock: two runs on one host interleave commands, as two
  OpenSSH clients on one master do); ``drop`` closes the held session (``meta:
  reset_connection``); ``shutdown`` closes every session and ends the keeper.
- A held session is checked before it is reused (one SSH round trip that runs nothing; a
  host that went away would otherwise look connected until TCP gives up) and reconnected
  when it does not answer.
- Lifetime: a session no client uses is closed ``persist`` seconds after its last use (the
  value its last ``open`` asked for); the keeper exits when it holds none and serves none.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprov.provision.connect.base import CommandTimeoutError, ConnectionFailure, Connector
from kprov.provision.connect.persist_wire import WireClosed, receive, send
from kprov.provision.connect.settings import ConnectionSettings, JumpHost
from kprov.provision.connect.ssh import SSHConnector

__all__ = ["ConnectionKeeper", "error_reply", "settings_from_wire", "settings_key"]

_REAP_EVERY_S = 1.0
_CHECK_S = 2.0  # a held session that does not answer within this is replaced (a live one: ms)
_FIRST_CLIENT_WAIT_S = 10.0  # a keeper nobody has reached yet waits this long for its starter
_PEERCRED = struct.Struct("3i")
ConnectorFactory = Callable[[str, ConnectionSettings], Connector]


def settings_key(wire: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(wire, sort_keys=True).encode()).hexdigest()


def settings_from_wire(wire: dict[str, Any]) -> ConnectionSettings:
    jump = wire.get("jump")
    return ConnectionSettings(**{**wire, "jump": JumpHost(**jump) if jump else None})


def error_reply(exc: BaseException) -> dict[str, Any]:
    """The wire form of an exception a Connector call may raise (the client raises it again:
    an OSError with its errno, strerror and filename, so FileNotFoundError stays one)."""
    if isinstance(exc, CommandTimeoutError):
        return {"error": "timeout", "message": exc.message}
    if isinstance(exc, ConnectionFailure):
        return {"error": "unreachable", "message": exc.message}
    if isinstance(exc, OSError):
        return {"error": "os", "type": type(exc).__name__, "message": str(exc), "errno": exc.errno,
                "strerror": exc.strerror,
                "filename": exc.filename if isinstance(exc.filename, str) else None}
    return {"error": "internal", "message": f"{type(exc).__name__}: {exc}"}


@dataclass
class _Held:
    connector: Connector
    persist_s: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    last_used: float = field(default_factory=time.monotonic)


class ConnectionKeeper:
    def __init__(self, socket_path: Path, connector_factory: ConnectorFactory = SSHConnector) -> None:
        self.socket_path = socket_path
        self._connector_factory = connector_factory
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()
        self._clients = 0
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._served = False

    # -- lifetime ----------------------------------------------------------------------------
    def serve(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()  # a keeper that died; the caller holds the start lock
        old_umask = os.umask(0o177)
        try:
            listener.bind(str(self.socket_path))
        finally:
            os.umask(old_umask)
        listener.listen(128)
        listener.settimeout(_REAP_EVERY_S)
        try:
            while not self._stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    if self._reap():
                        break
                    continue
                if not self._same_user(conn):
                    conn.close()
                    continue
                conn.settimeout(None)
                with self._lock:
                    self._clients += 1
                    self._served = True
                threading.Thread(target=self._serve_client, args=(conn,), daemon=True).start()
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
            listener.close()
            self._close_all()

    @staticmethod
    def _same_user(conn: socket.socket) -> bool:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
        _pid, uid, _gid = _PEERCRED.unpack(creds)
        return uid == os.getuid()

    def _reap(self) -> bool:
        """Close sessions idle past their persist time; True when the keeper should end."""
        now = time.monotonic()
        with self._lock:
            idle = [k for k, h in self._held.items() if not h.users and now - h.last_used >= h.persist_s]
            closing = [self._held.pop(k) for k in idle]
            waited = self._served or now - self._started >= _FIRST_CLIENT_WAIT_S
            done = not self._held and not self._clients and waited
        for held in closing:
            with held.lock:
                held.connector.close()
        return done

    def _close_all(self) -> None:
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for h in held:
            h.connector.close()

    # -- one client: one run's session to one host -------------------------------------------
    def _serve_client(self, conn: socket.socket) -> None:
        held: _Held | None = None
        try:
            while True:
                header, blobs = receive(conn)
                op = header.get("op")
                if op == "open":
                    if held is not None:
                        self._release(held)
                    held, reply = self._open(header)
                    send(conn, reply)
                elif op == "shutdown":
                    self._stop.set()
                    send(conn, {"ok": True})
                elif held is None:
                    send(conn, {"error": "internal", "message": f"{op!r} before open"})
                else:
                    reply, out = self._call(held, op, header, blobs)
                    send(conn, reply, out)
        except (WireClosed, OSError, ValueError):
            pass
        finally:
            if held is not None:
                self._release(held)
            with self._lock:
                self._clients -= 1
            conn.close()

    def _release(self, held: _Held) -> None:
        with self._lock:
            held.users -= 1
            held.last_used = time.monotonic()

    def _open(self, header: dict[str, Any]) -> tuple[_Held | None, dict[str, Any]]:
        wire = header["settings"]
        key = settings_key(wire)
        with self._lock:
            held = self._held.get(key)
            if held is None:
                connector = self._connector_factory(wire["host_name"], settings_from_wire(wire))
                held = _Held(connector, float(header["persist"]))
                self._held[key] = held
            held.users += 1
            held.persist_s = float(header["persist"])
        with held.lock:
            try:
                reused = held.connector.responsive(min(_CHECK_S, float(wire["connect_timeout"])))
                if not reused:
                    held.connector.connect()
            except BaseException as exc:  # noqa: BLE001 - every failure goes back to the run
                self._release(held)
                return None, error_reply(exc)
        return held, {"ok": True, "reused": reused}

    def _call(
        self, held: _Held, op: str | None, header: dict[str, Any], blobs: list[bytes]
    ) -> tuple[dict[str, Any], list[bytes]]:
        connector = held.connector
        with held.lock:
            try:
                if op == "run":
                    result = connector.run(
                        header["cmd"], become=header["become"], become_user=header["become_user"],
                        stdin=blobs[0] if header["has_stdin"] else None, timeout=header["timeout"],
                    )
                    return {"rc": result.rc, "duration_s": result.duration_s}, [
                        result.stdout.encode(), result.stderr.encode()]
                if op == "put":
                    connector.put(blobs[0], header["path"], mode=header["mode"], become=header["become"],
                                  owner=header["owner"], group=header["group"])
                    return {"ok": True}, []
                if op == "get":
                    return {"ok": True}, [connector.get(header["path"], become=header["become"])]
                if op == "drop":
                    connector.close()
                    connector.connect()
                    return {"ok": True}, []
                return {"error": "internal", "message": f"unknown operation {op!r}"}, []
            except BaseException as exc:  # noqa: BLE001 - every failure goes back to the run
                return error_reply(exc), []
            finally:
                held.last_used = time.monotonic()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="kprov's SSH connection keeper (started by runs)")
    parser.add_argument("--socket", required=True, type=Path)
    args = parser.parse_args(argv)
    ConnectionKeeper(args.socket).serve()


if __name__ == "__main__":
    main()
