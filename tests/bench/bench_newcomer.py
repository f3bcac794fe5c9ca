"""Benchmark: the README's first command as a newcomer runs it, from a clean clone.

    python tests/bench/bench_newcomer.py [--lab N] [--keep] [--cold]

Clones this checkout's HEAD (committed files only, as `git clone` gives them) into a
scratch folder, then times, in that clone, the two halves of the README's first line:

- the setup command as the README's first line gives it (``bash .ci/setup --main``: Debian
  packages and the virtualenv with kprov, what the cluster needs and no test tools). On a
  machine that ran it before, what is already there is not done again (installed Debian
  packages, pip's download cache, the base image under /var/lib/kprov/lab): the figure is
  the warm path, and says so.
- ``.venv/bin/kprov up --lab N``: 5 lab hosts, the cluster applied, verified. Its own
  per-phase timings (lab, apply, verify) are printed beside it.

``--cold`` first removes what a fresh machine has none of and earlier runs left: the lab's base
image and package repository, kprov's runtime and wheelhouse, the node images, the built ash
and pip's download cache (the Debian packages stay installed: their apt step is the same
either way). It refuses while any lab instance has hosts (they stand on the base image).

Prints ``newcomer_setup_s``, ``newcomer_up_s``, ``newcomer_lab_s``, ``newcomer_apply_s``,
``newcomer_verify_s`` and ``newcomer_total_s`` (issue 77 asks <= 180 s in all, ``kprov up``
<= 90 s). The run fails, rather than printing figures, if `kprov up` fails or any verify
check does. Lab N (default 7) is wiped before and after; the clone is removed unless
``--keep``. Measure with nothing else heavy running.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PHASES = re.compile(r"\b(lab|apply|verify)\s+([\d.]+)s\b")
VERIFIED = re.compile(r"verify: (\d+)/(\d+) checks passed")


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    start = time.monotonic()
    env = {**os.environ, "COLUMNS": "200"}  # one line per message: the phase timings are parsed
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=env, check=False)
    elapsed = time.monotonic() - start
    output = done.stdout + done.stderr
    if done.returncode != 0:
        sys.stderr.write(output[-4000:])
        raise SystemExit(f"{' '.join(command)} failed (rc {done.returncode}) after {elapsed:.0f} s")
    return elapsed, output


def phase_seconds(up_output: str) -> dict[str, float]:
    """``kprov up``'s closing ``(lab 51.2s, apply 110.0s, verify 4.1s)`` as a mapping."""
    _, marker, tail = up_output.rpartition("inventory:")
    phases = {name: float(value) for name, value in PHASES.findall(tail)}
    if not marker or "apply" not in phases:
        raise SystemExit("kprov up printed no phase timings")
    return phases


def readme_setup_command(readme: Path) -> list[str]:
    """The setup half of the README's first command (``<setup> && .venv/bin/kprov up  # ...``)."""
    lines = readme.read_text().split("```sh\n", 1)[1].splitlines()
    setup, joined, up = lines[0].partition("#")[0].partition("&&")
    if not joined or "kprov up" not in up:
        raise SystemExit(f"{readme}: the first command is not '<setup> && .venv/bin/kprov up': {lines[0]!r}")
    return shlex.split(setup)


LAB_ROOT = Path("/var/lib/kprov/lab")
COLD_PATHS = (LAB_ROOT / "base", LAB_ROOT / "repo", LAB_ROOT / "repo-work", Path("/var/lib/kprov/wheelhouse"),
              Path("/var/lib/kprov/images"), Path("/usr/local/libexec/kprov/busybox-ash"),
              Path.home() / ".cache" / "pip")


def make_cold() -> None:
    """Remove :data:`COLD_PATHS` (see the module's docstring); refuse while a lab has hosts."""
    with_hosts = sorted(str(d.parent) for d in LAB_ROOT.glob("*/hosts") if any(d.iterdir()))
    if with_hosts:
        raise SystemExit(f"--cold: lab instances still have hosts ({', '.join(with_hosts)}): wipe them first")
    for path in COLD_PATHS:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def wipe(kprov: str, lab: int, cwd: Path) -> None:
    subprocess.run([kprov, "lab", "--lab", str(lab), "wipe"], cwd=cwd, capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the clone (and its lab) afterwards")
    parser.add_argument("--cold", action="store_true", help="remove kprov's caches first (see the docstring)")
    args = parser.parse_args()
    if args.cold:
        make_cold()
    scratch = Path(tempfile.mkdtemp(prefix="kprov-newcomer-"))
    clone = scratch / "kprov"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    kprov = str(clone / ".venv" / "bin" / "kprov")
    try:
        setup_s, _ = timed(readme_setup_command(clone / "README.md"), clone)
        wipe(kprov, args.lab, clone)
        up_s, output = timed([kprov, "up", "--lab", str(args.lab)], clone)
        passed = VERIFIED.search(output)
        if passed is None or passed.group(1) != passed.group(2):
            sys.stderr.write(output[-4000:])
            raise SystemExit("kprov up did not end with every verify check passed")
        phases = phase_seconds(output)
        print(f"newcomer_setup_s = {setup_s:.1f}")
        print(f"newcomer_up_s = {up_s:.1f}")
        for name in ("lab", "apply", "verify"):
            print(f"newcomer_{name}_s = {phases.get(name, float('nan')):.1f}")
        print(f"newcomer_total_s = {setup_s + up_s:.1f}")
    finally:
        if not args.keep:
            if (clone / ".venv").exists():
                wipe(kprov, args.lab, clone)
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
