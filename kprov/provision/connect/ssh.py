"""The ssh transport: one persistent paramiko connection per host per run.

- Connect with a timeout and retries (network errors only; auth and host-key errors are
  final), keepalives on the transport, optionally through a bastion: a first SSHClient to the
  jump host and a ``direct-tcpip`` channel as the socket of the second.
- Host keys: checked against ~/.ssh/known_hosts (or UserKnownHostsFile) by default; an
  unknown or changed key is UNREACHABLE with a message saying how to opt out.
- Commands: through one persistent remote shell per connection (see ``session``; no per-
  command sshd session setup), or one exec channel each when ``kprov_persistent_shell: false``
  or stdin is large; stdout/stderr read together so neither can block the other; a timeout
  abandons the shell/channel (CommandTimeoutError), the connection stays.
- Files: one SFTP session, opened on first use and reused. ``put`` uploads to a temp file
  beside the target (or in /tmp when a privilege switch is needed), then one command
  finalizes and renames it; ``get`` reads through SFTP (or ``cat`` through sudo).
- sudo with a password: whether sudo asks for one is probed once per connection
  (``sudo -n true``), so NOPASSWD hosts never get the password on stdin.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import secrets
import select
import shlex
import threading
import time

from kprov.provision.connect.base import CommandResult, CommandTimeoutError, Connector, UnreachableError
from kprov.provision.connect.session import MAX_FRAMED_STDIN, PersistentShell, ShellLost, ShellTimeout
from kprov.provision.connect.settings import ConnectionSettings, JumpHost
from kprov.provision.connect.shell import finalize_script, needs_switch, staging_name, wrap_command
from kprov.provision.connect.sshlib import paramiko

__all__ = ["SSHConnector"]

_RETRY_PAUSE_S = 0.5
# Opening a session channel waits for sshd's PAM session stack (pam_motd runs
# /etc/update-motd.d on the first one), which OpenSSH's client waits for without a limit:
# ``connect_timeout`` (Ansible's ``timeout``, OpenSSH's ConnectTimeout) covers reaching the
# host, not this. A role that installs a slow motd script must not make its host unreachable.
SESSION_OPEN_TIMEOUT_S = 120.0

# paramiko logs connect failures with tracebacks from its transport thread; they are reported
# as UnreachableError instead. A NullHandler keeps Python's last-resort stderr handler quiet.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


_SEND_CHUNK = 1 << 20


def _send_all(channel: paramiko.Channel, data: bytes) -> None:
    """``channel.sendall`` in 1 MiB slices of a memoryview: paramiko's sendall re-slices the
    remaining bytes after every 32 KiB packet, which is quadratic (a 28 MB upload: 4x slower)."""
    view = memoryview(data)
    for start in range(0, len(view), _SEND_CHUNK):
        # paramiko slices and sends any buffer; types-paramiko narrows it to bytes | bytearray
        channel.sendall(view[start : start + _SEND_CHUNK])  # type: ignore[arg-type]


class _AcceptPolicy(paramiko.MissingHostKeyPolicy):
    """Host key checking turned off on purpose: accept and do not record."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        return None


class SSHConnector(Connector):
    def __init__(self, host: str, settings: ConnectionSettings) -> None:
        self.host = host
        self.settings = settings
        self._client: paramiko.SSHClient | None = None
        self._jump: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._shell: PersistentShell | None = None
        self._sudo_needs_password: bool | None = None

    # -- session ---------------------------------------------------------------------------
    def _new_client(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        if self.settings.host_key_checking:
            if self.settings.known_hosts_file:
                with contextlib.suppress(FileNotFoundError):
                    client.load_host_keys(self.settings.known_hosts_file)
            else:
                client.load_system_host_keys()
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        else:
            client.set_missing_host_key_policy(_AcceptPolicy())
        return client

    def _open(self, address: str, port: int, user: str, sock: paramiko.Channel | None) -> paramiko.SSHClient:
        s = self.settings
        client = self._new_client()
        try:
            self._connect_client(client, address, port, user, sock)
        except BaseException:
            client.close()  # no half-open transport thread left behind
            raise
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(s.keepalive_interval)
        return client

    def _connect_client(self, client: paramiko.SSHClient, address: str, port: int, user: str,
                        sock: paramiko.Channel | None) -> None:
        s = self.settings
        client.connect(
            address,
            port=port,
            username=user,
            password=s.password,
            key_filename=s.key_file,
            timeout=s.connect_timeout,
            banner_timeout=s.connect_timeout,
            auth_timeout=s.connect_timeout,
            channel_timeout=s.connect_timeout,
            look_for_keys=s.key_file is None,
            allow_agent=True,
            sock=sock,
        )

    def _open_via(self, jump: JumpHost) -> tuple[paramiko.SSHClient, paramiko.Channel]:
        s = self.settings
        bastion = self._open(jump.address, jump.port, jump.user or s.user, None)
        transport = bastion.get_transport()
        assert transport is not None
        try:
            channel = transport.open_channel(
                "direct-tcpip", (s.address, s.port), ("127.0.0.1", 0), timeout=s.connect_timeout
            )
        except BaseException:
            bastion.close()
            raise
        return bastion, channel

    def connect(self) -> None:
        if self._client is not None:
            transport = self._client.get_transport()
            if transport is not None and transport.is_active():
                return
            self.close()
        s = self.settings
        where = f"{s.user}@{s.address}:{s.port}" + (f" via {s.jump.address}" if s.jump else "")
        last: Exception | None = None
        for attempt in range(s.connect_retries + 1):
            if attempt:
                time.sleep(_RETRY_PAUSE_S * attempt)
            jump: paramiko.SSHClient | None = None
            try:
                sock = None
                if s.jump is not None:
                    jump, sock = self._open_via(s.jump)
                self._client = self._open(s.address, s.port, s.user, sock)
                self._jump = jump
                return
            except paramiko.BadHostKeyException as exc:
                self._discard(jump)
                raise UnreachableError(
                    self.host,
                    f"host key for {exc.hostname} CHANGED (possible impersonation); fix "
                    "known_hosts, or turn checking off (kprov_host_key_checking: false)",
                ) from exc
            except paramiko.SSHException as exc:
                self._discard(jump)
                if "not found in known_hosts" in str(exc):
                    raise UnreachableError(
                        self.host,
                        f"{where}: host key unknown ({exc}); add it to known_hosts "
                        "(ssh-keyscan), or turn checking off: kprov_host_key_checking: false, "
                        "ansible_ssh_common_args: -o StrictHostKeyChecking=no, or env "
                        "KPROV_HOST_KEY_CHECKING=False",
                    ) from exc
                if isinstance(exc, paramiko.AuthenticationException):
                    raise UnreachableError(self.host, f"{where}: authentication failed: {exc}") from exc
                last = exc
            except (OSError, EOFError) as exc:
                self._discard(jump)
                last = exc
        raise UnreachableError(
            self.host, f"cannot connect to {where} after {s.connect_retries + 1} attempts: {last}"
        )

    @staticmethod
    def _discard(client: paramiko.SSHClient | None) -> None:
        if client is not None:
            client.close()

    def close(self) -> None:
        for closable in (self._shell, self._sftp, self._client, self._jump):
            if closable is not None:
                with contextlib.suppress(OSError, paramiko.SSHException):
                    closable.close()
        self._sftp = self._client = self._jump = None
        self._shell = None
        self._sudo_needs_password = None

    def responsive(self, timeout: float) -> bool:
        """Whether the open session still answers: one SSH-level round trip (a global
        request the server must reply to; nothing runs on the host), at most ``timeout``
        seconds. A held session whose host went away stays "active" until TCP gives up."""
        transport = self._client.get_transport() if self._client is not None else None
        if transport is None or not transport.is_active():
            return False
        answered = threading.Event()

        def ask() -> None:
            with contextlib.suppress(Exception):
                transport.global_request("keepalive@openssh.com", wait=True)
                if transport.is_active():
                    answered.set()

        threading.Thread(target=ask, name=f"kprov-ping-{self.host}", daemon=True).start()
        if answered.wait(timeout):
            return True
        self.close()  # (ends the asking thread: paramiko waits while the transport is active)
        return False

    def _transport(self) -> paramiko.Transport:
        self.connect()
        assert self._client is not None
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise UnreachableError(self.host, "connection lost")
        return transport

    # -- commands --------------------------------------------------------------------------
    def _exec(self, line: str, stdin: bytes | None, timeout: float | None) -> tuple[int, bytes, bytes, float]:
        started = time.monotonic()
        try:
            channel = self._transport().open_session(timeout=SESSION_OPEN_TIMEOUT_S)
            channel.exec_command(line)
            if stdin:
                _send_all(channel, stdin)
            channel.shutdown_write()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            raise UnreachableError(self.host, f"session lost: {exc}") from exc
        deadline = None if timeout is None else started + timeout
        out, err = bytearray(), bytearray()
        try:
            while True:
                while channel.recv_ready():
                    out += channel.recv(65536)
                while channel.recv_stderr_ready():
                    err += channel.recv_stderr(65536)
                if channel.eof_received and channel.exit_status_ready():
                    while channel.recv_ready():
                        out += channel.recv(65536)
                    while channel.recv_stderr_ready():
                        err += channel.recv_stderr(65536)
                    break
                if channel.closed and not channel.exit_status_ready():
                    raise UnreachableError(self.host, "channel closed without an exit status")
                wait = 1.0 if deadline is None else deadline - time.monotonic()
                if wait <= 0:
                    raise CommandTimeoutError(self.host, f"command timed out after {timeout} s")
                if channel.eof_received:
                    channel.status_event.wait(min(wait, 1.0))
                else:
                    select.select([channel], [], [], min(wait, 1.0))
            rc = channel.recv_exit_status()
        except (OSError, paramiko.SSHException, EOFError) as exc:
            self.close()
            raise UnreachableError(self.host, f"session lost: {exc}") from exc
        finally:
            channel.close()
        return rc, bytes(out), bytes(err), time.monotonic() - started

    def _run_line(
        self, line: str, stdin: bytes | None, timeout: float | None
    ) -> tuple[int, bytes, bytes, float]:
        """Through the persistent shell when possible, else on a fresh exec channel."""
        if not self.settings.persistent_shell or (stdin is not None and len(stdin) > MAX_FRAMED_STDIN):
            return self._exec(line, stdin, timeout)
        started = time.monotonic()
        try:
            if self._shell is None or not self._shell.alive:
                self._shell = PersistentShell(self._transport(), SESSION_OPEN_TIMEOUT_S)
            rc, out, err = self._shell.run(line, stdin, timeout)
        except ShellTimeout:
            self._shell = None
            raise CommandTimeoutError(self.host, f"command timed out after {timeout} s") from None
        except ShellLost as exc:
            self._shell = None
            transport = self._client.get_transport() if self._client else None
            if transport is None or not transport.is_active():
                self.close()
                raise UnreachableError(self.host, f"connection lost during a command: {exc}") from exc
            raise UnreachableError(self.host, f"the remote shell ended during a command: {exc}") from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            raise UnreachableError(self.host, f"session lost: {exc}") from exc
        return rc, out, err, time.monotonic() - started

    def _sudo_password_needed(self) -> bool:
        if self.settings.become_password is None or self.settings.user == "root":
            return False
        if self._sudo_needs_password is None:
            rc, _, _, _ = self._exec("sudo -n true", None, self.settings.connect_timeout)
            self._sudo_needs_password = rc != 0
        return self._sudo_needs_password

    def _line(
        self, cmd: str, become: bool, become_user: str | None, stdin: bytes | None
    ) -> tuple[str, bytes | None]:
        password = needs_switch(self.settings.user, become, become_user) and self._sudo_password_needed()
        line = wrap_command(
            cmd, login_user=self.settings.user, become=become, become_user=become_user, sudo_password=password
        )
        if password:
            stdin = (self.settings.become_password or "").encode() + b"\n" + (stdin or b"")
        return line, stdin

    def run(
        self,
        cmd: str,
        *,
        become: bool = False,
        become_user: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> CommandResult:
        line, data = self._line(cmd, become, become_user, stdin)
        rc, out, err, took = self._run_line(line, data, timeout)
        return CommandResult(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), took)

    # -- files -----------------------------------------------------------------------------
    def _sftp_client(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._transport()
            assert self._client is not None
            try:
                self._sftp = self._client.open_sftp()
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise UnreachableError(self.host, f"cannot open SFTP: {exc}") from exc
        return self._sftp

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
        switch = needs_switch(self.settings.user, become, None)
        staged = posixpath.join("/tmp", f".kprov-{secrets.token_hex(6)}") if switch else staging_name(path)
        sftp = self._sftp_client()
        try:
            with sftp.open(staged, "wb") as handle:
                handle.set_pipelined(True)
                handle.write(data)
        except OSError as exc:
            raise OSError(f"{self.host}: cannot write {path}: {exc}") from exc
        result = self.run(
            finalize_script(staged, path, mode=mode, owner=owner, group=group, copy_from_elsewhere=switch),
            become=become,
        )
        if result.rc != 0:
            self.run(f"rm -f {shlex.quote(staged)}")
            raise OSError(f"{self.host}: cannot write {path}: {result.stderr.strip()}")

    def get(self, path: str, *, become: bool = False) -> bytes:
        if not needs_switch(self.settings.user, become, None):
            sftp = self._sftp_client()
            with sftp.open(path, "rb") as handle:
                handle.prefetch()
                return handle.read()
        line, data = self._line(f"cat -- {shlex.quote(path)}", become, None, None)
        rc, out, err, _ = self._exec(line, data, None)  # binary-safe and unbounded: its own channel
        if rc != 0:
            message = err.decode("utf-8", "replace").strip()
            if "No such file" in message:
                raise FileNotFoundError(path)
            raise OSError(f"{self.host}: cannot read {path}: {message}")
        return out
