"""wait_for ``state: drained`` against this machine's own TCP sockets (a local connection):
a listener with no connection is drained at once, an established connection holds the
wait until it times out with ansible-core's message, and ``active_connection_states`` and
``exclude_hosts`` narrow what counts. Also ansible-core's refusals and timeout messages."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kprov.provision.modules.commands.ping import CRASH
from kprov.provision.modules.commands.wait_for import timeout_message


@pytest.fixture()
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server
    server.close()


def _run(local_play: Callable[..., Any], args: str) -> tuple[bool, str]:
    run = local_play(f"wait_for: {{{args}}}")
    return run.ok, run.results[0].msg or ""


def test_a_listener_without_connections_is_drained(local_play: Callable[..., Any],
                                                   listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    ok, msg = _run(local_play, f"port: {port}, state: drained, timeout: 20")
    assert ok, msg


def test_an_established_connection_holds_the_drain(local_play: Callable[..., Any],
                                                  listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    try:
        ok, msg = _run(local_play, f"port: {port}, state: drained, timeout: 1")
        assert not ok and msg == f"Timeout when waiting for 127.0.0.1:{port} to drain"
        ok, msg = _run(local_play,
                          f"port: {port}, state: drained, timeout: 5, exclude_hosts: [127.0.0.1]")
        assert ok, msg  # the only connection comes from an excluded host
        ok, msg = _run(local_play,
                          f"port: {port}, state: drained, timeout: 5, active_connection_states: [SYN_SENT]")
        assert ok, msg  # ESTABLISHED is not counted when not listed
        ok, msg = _run(local_play, f"port: {port}, state: drained, timeout: 5, host: 127.0.0.2")
        assert ok, msg  # the connection's local address is not the host's
    finally:
        client.close()
        accepted.close()


def test_time_wait_on_the_port_counts_by_default(local_play: Callable[..., Any],
                                                 listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server's side closes first: its socket (local port = port) waits in TIME_WAIT
    client.close()
    ok, msg = _run(local_play, f"port: {port}, state: drained, timeout: 1")
    assert not ok and msg.endswith("to drain")
    ok, msg = _run(local_play,
                      f"port: {port}, state: drained, timeout: 5, active_connection_states: [ESTABLISHED]")
    assert ok, msg


def test_names_are_resolved_once_not_at_every_poll(local_play: Callable[..., Any],
                                                   listener: socket.socket, tmp_path: Path) -> None:
    """ansible-core resolves ``host`` and ``exclude_hosts`` once, before its loop; the host's
    interpreter (a wrapper here, logging each call's arguments) meets the names once however
    many times the drain polls."""
    calls = tmp_path / "calls"
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    port = listener.getsockname()[1]
    # from 127.0.0.2: not an address of the excluded name (localhost)
    client = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0))
    accepted, _ = listener.accept()
    try:
        run = local_play(f"{{wait_for: {{port: {port}, state: drained, timeout: 2, host: 127.0.0.1,"
                         f" exclude_hosts: [localhost]}}, vars: {{ansible_python_interpreter: {wrapper}}}}}")
    finally:
        client.close()
        accepted.close()
    assert not run.ok and run.results[0].msg == f"Timeout when waiting for 127.0.0.1:{port} to drain"
    lines = calls.read_text().splitlines()
    assert len(lines) > 3  # it polled
    assert sum("localhost" in line for line in lines) == 1


_PORT_ONLY = "should only be used for checking a port in the wait_for module"


@pytest.mark.parametrize(("args", "message"), [
    ("port: 22, path: /tmp", "port and path parameter can not both be passed to wait_for"),
    ("path: /tmp, state: drained", f"state=drained {_PORT_ONLY}"),
    ("path: /tmp, state: stopped", f"state=stopped {_PORT_ONLY}"),
    ("port: 22, exclude_hosts: [10.0.0.1]", "exclude_hosts should only be with state=drained"),
    ("port: 22, state: drained, active_connection_states: [LISTEN]",
     "unknown active_connection_state (LISTEN) defined"),
])
def test_ansible_cores_refusals(local_play: Callable[..., Any], args: str,
                                message: str) -> None:
    ok, msg = _run(local_play, args)
    assert not ok and msg == message


def test_timeout_messages_as_ansible_core_words_them() -> None:
    base = {"host": "127.0.0.1", "port": None, "path": None, "search_regex": None, "state": "started"}
    assert timeout_message({**base, "port": 80}) == "Timeout when waiting for 127.0.0.1:80"
    assert timeout_message({**base, "port": 80, "search_regex": "OK"}) == \
        "Timeout when waiting for search string OK in 127.0.0.1:80"
    assert timeout_message({**base, "port": 80, "state": "stopped"}) == \
        "Timeout when waiting for 127.0.0.1:80 to stop."
    assert timeout_message({**base, "path": "/x"}) == "Timeout when waiting for file /x"
    assert timeout_message({**base, "path": "/x", "search_regex": "a"}) == \
        "Timeout when waiting for search string a in /x"
    assert timeout_message({**base, "path": "/x", "state": "absent"}) == \
        "Timeout when waiting for /x to be absent."


def test_a_host_that_does_not_resolve_fails_at_once_as_the_module_crashes(
        local_play: Callable[..., Any]) -> None:
    """ansible-core 2.18 resolves ``host`` and ``exclude_hosts`` before its loop and raises
    (gaierror): the action reports the module's crash at once, not a timeout."""
    for args in ("port: 1, state: drained, timeout: 30, host: no-such-host.invalid",
                 "port: 1, state: drained, timeout: 30, exclude_hosts: [no-such-host.invalid]"):
        run = local_play(f"wait_for: {{{args}}}")
        result = run.results[0]
        assert not run.ok and result.duration_s < 15, result.duration_s  # it polled 30 s before
        assert result.msg == CRASH  # ansible-core's words for a module that raised
        assert result.result["rc"] == 1 and result.result["module_stdout"] == ""
        assert result.result["module_stderr"].startswith("Traceback")
        assert "gaierror" in result.result["exception"].splitlines()[-1]
        assert "elapsed" not in result.result
