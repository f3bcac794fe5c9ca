"""Read a host's CIS evidence in one round trip: one Python script, its answer one JSON line.

The operator sends what to read as data (:class:`EvidenceSpec`): files and globs to stat,
systemd units whose ExecStart words to read, environment files, plain HTTP(S) probes made
from the host itself *without credentials* (is anonymous access refused?), public
certificates to fingerprint, and the encryption-at-rest configuration, of which only the
provider names leave the host (never a key). The script runs with the host's python3 (every
kprov host has it: preflight checks it) and the standard library only.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field

from kprov.deploy.verify.cis.model import FileStat, HostEvidence

__all__ = ["EvidenceSpec", "evidence_command", "parse_evidence"]

_SCRIPT = r"""
import glob, grp, hashlib, json, os, pwd, re, shlex, socket, ssl, stat, sys, urllib.request, urllib.error
spec = json.loads(sys.argv[1])
out = {"files": {}, "argv": {}, "env": {}, "listening": [], "http": {}, "digests": {}, "providers": []}
def name(table, num):
    try:
        return table(num)[0]
    except KeyError:
        return str(num)
for pattern in spec["files"]:
    for path in sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]:
        try:
            st = os.stat(path)
        except OSError:
            continue
        owner = name(pwd.getpwuid, st.st_uid) + ":" + name(grp.getgrgid, st.st_gid)
        out["files"][path] = [stat.S_IMODE(st.st_mode), owner]
for unit, path in spec["units"].items():
    try:
        text = open(path).read().replace("\\\n", " ")
    except OSError:
        continue
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            out["argv"][unit] = shlex.split(line[len("ExecStart="):])
for path in spec["env"]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    out["env"][path] = dict(l.split("=", 1) for l in lines if "=" in l and not l.lstrip().startswith("#"))
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        f = row.split()
        if f[3] != "0A":
            continue
        addr, port = f[1].split(":")
        raw = bytes.fromhex(addr)
        if len(raw) == 4:
            ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
        else:
            ip = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
        out["listening"].append([ip, int(port, 16)])
context = ssl._create_unverified_context()
for probe, url in spec["http"].items():
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as reply:
            out["http"][probe] = reply.status
    except urllib.error.HTTPError as err:
        out["http"][probe] = err.code
    except Exception:
        out["http"][probe] = 0
for path in spec["digests"]:
    try:
        out["digests"][path] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    except OSError:
        pass
try:
    config = open(spec["encryption"]).read()
    out["providers"] = re.findall(r"^\s*-\s*(aescbc|aesgcm|secretbox|kms|identity)\s*:", config, re.M)
except (OSError, KeyError):
    pass
print(json.dumps(out))
"""


@dataclass
class EvidenceSpec:
    files: list[str] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)  # unit name -> unit file path
    env: list[str] = field(default_factory=list)
    http: dict[str, str] = field(default_factory=dict)  # probe name -> URL (no credentials sent)
    digests: list[str] = field(default_factory=list)
    encryption: str = ""


def evidence_command(spec: EvidenceSpec) -> str:
    """The one shell command that reads ``spec`` on a host and prints one JSON line."""
    return f"python3 -I -c {shlex.quote(_SCRIPT)} {shlex.quote(json.dumps(asdict(spec)))}"


def parse_evidence(host: str, rc: int, stdout: str, stderr: str = "") -> HostEvidence:
    """The script's answer as :class:`HostEvidence`; a failed read is an evidence error."""
    if rc != 0:
        return HostEvidence(host, error=f"evidence script failed (rc={rc}): {stderr.strip()[-300:]}")
    try:
        raw = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return HostEvidence(host, error=f"evidence script printed no JSON: {stdout[-300:]!r}")
    return HostEvidence(
        host=host,
        files={path: FileStat(int(mode), str(owner)) for path, (mode, owner) in raw["files"].items()},
        argv={unit: [str(w) for w in words] for unit, words in raw["argv"].items()},
        env={path: {str(k): str(v) for k, v in values.items()} for path, values in raw["env"].items()},
        listening=[(str(ip), int(port)) for ip, port in raw["listening"]],
        http={str(k): int(v) for k, v in raw["http"].items()},
        digests={str(k): str(v) for k, v in raw["digests"].items()},
        encryption_providers=[str(p) for p in raw["providers"]],
    )
