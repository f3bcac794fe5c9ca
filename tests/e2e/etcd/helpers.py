"""Helpers for the etcd e2e tests: running the kprov CLI, a TLS gRPC client straight to the
members (the operator machine's view, with the admin client cert), unit state over SSH."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from aetcd import rpc

from kprov.lab import Lab

KPROV = [sys.executable, "-m", "kprov.cli.main"]
HOSTS5 = [f"h{i}" for i in range(1, 6)]


def kprov(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the kprov CLI; fail the test with its output when it fails."""
    proc = subprocess.run([*KPROV, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"kprov {' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def kprov_apply(inventory: Path, playbook: Path, *extra: str) -> dict[str, Any]:
    """`kprov apply --json`: the run report."""
    return json.loads(kprov("apply", "-i", inventory, playbook, "--json", *extra).stdout)


def write_inventory(lab: Lab, path: Path, etcd_hosts: list[str]) -> Path:
    """The lab's 5-host inventory with ``etcd_hosts`` as the etcd group."""
    import yaml

    lab.write_inventory(path, 5)
    data = yaml.safe_load(path.read_text())
    data["all"]["children"]["etcd"]["hosts"] = {h: None for h in etcd_hosts}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def unit_state(lab: Lab, host: str) -> dict[str, str]:
    rc, out, err = lab.ssh(host, "systemctl show kprov-etcd -p MainPID -p ActiveState "
                                 "-p ExecMainStartTimestampMonotonic -p ActiveEnterTimestampMonotonic")
    assert rc == 0, err
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def wipe_etcd(lab: Lab, hosts: list[str]) -> None:
    for host in hosts:
        lab.ssh(host, "systemctl disable --now kprov-etcd >/dev/null 2>&1; rm -rf /var/lib/kprov/etcd*")


@dataclass
class EtcdClient:
    """Sync gRPC KV client to one member over mutual TLS."""

    address: str
    pki: Path
    channel: grpc.Channel = field(init=False)

    def __post_init__(self) -> None:
        creds = grpc.ssl_channel_credentials(
            root_certificates=(self.pki / "etcd/ca.crt").read_bytes(),
            private_key=(self.pki / "etcd/admin.key").read_bytes(),
            certificate_chain=(self.pki / "etcd/admin.crt").read_bytes(),
        )
        self.channel = grpc.secure_channel(f"{self.address}:2379", creds)
        self.kv = rpc.KVStub(self.channel)

    def put(self, key: str, value: str, timeout: float = 2.0) -> None:
        self.kv.Put(rpc.PutRequest(key=key.encode(), value=value.encode()), timeout=timeout)

    def count(self, prefix: str, serializable: bool = False, timeout: float = 5.0) -> int:
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        req = rpc.RangeRequest(key=prefix.encode(), range_end=end.encode(), count_only=True,
                               serializable=serializable)
        return int(self.kv.Range(req, timeout=timeout).count)

    def get(self, key: str, serializable: bool = False) -> str | None:
        resp = self.kv.Range(rpc.RangeRequest(key=key.encode(), serializable=serializable), timeout=5.0)
        return resp.kvs[0].value.decode() if resp.kvs else None

    def delete_prefix(self, prefix: str) -> int:
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        req = rpc.DeleteRangeRequest(key=prefix.encode(), range_end=end.encode())
        return int(self.kv.DeleteRange(req, timeout=10.0).deleted)

    def close(self) -> None:
        self.channel.close()


class Writer(threading.Thread):
    """Writes /e2e/w/<n> in order, retrying the same key until it is acknowledged, and
    records the longest time between two acknowledged writes."""

    prefix = "/e2e/w/"

    def __init__(self, client: EtcdClient) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.acked = 0
        self.failures = 0
        self.max_gap = 0.0
        self._halt = threading.Event()

    def run(self) -> None:
        last = time.monotonic()
        while not self._halt.is_set():
            try:
                self.client.put(f"{self.prefix}{self.acked:07d}", str(self.acked), timeout=1.0)
            except grpc.RpcError:
                self.failures += 1
                time.sleep(0.02)
                continue
            now = time.monotonic()
            self.max_gap = max(self.max_gap, now - last)
            last = now
            self.acked += 1
            time.sleep(0.004)

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.5) -> float:
    """Seconds until ``predicate()`` was true; AssertionError after ``timeout``."""
    start = time.monotonic()
    last_error: Exception | None = None
    while time.monotonic() - start < timeout:
        try:
            if predicate():
                return time.monotonic() - start
        except (grpc.RpcError, AssertionError) as e:
            last_error = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} ({last_error})")
