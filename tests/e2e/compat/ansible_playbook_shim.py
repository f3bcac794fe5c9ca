"""``ansible-playbook`` for a runme.sh target run under kprov: the same command line, run by kprov.

ansible-core's script targets (``runme.sh``) call ``ansible-playbook`` by name; the runme
harness (ansible_runme.py) puts a wrapper of this script first on PATH for kprov's side, so
every playbook run in the script is ``kprov apply`` with the arguments as given (-i, -e,
--tags, --skip-tags, -v, --check, --diff, -l pass through unchanged; an option kprov does not
have fails as kprov's CLI reports it, which is a divergence the results show). What
ansible-playbook takes from its environment and kprov takes as options is translated:
``ANSIBLE_ROLES_PATH`` becomes ``--roles-path``; ``-c local`` becomes
``-e ansible_connection=local``; the console output is ansible-playbook's
(``--output=ansible``), which the scripts grep. Several playbooks run one after another, as
ansible-playbook runs them, stopping at the first that fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

_BIN = Path(sys.executable).parent
# options of ansible-playbook that take a value (so their value is not taken for a playbook)
_VALUED = frozenset({"-i", "--inventory", "-e", "--extra-vars", "-t", "--tags", "--skip-tags",
                     "-l", "--limit", "-f", "--forks", "--vault-id", "--vault-password-file",
                     "--vault-pass-file", "-M", "--module-path", "-u", "--user", "-c",
                     "--connection", "--start-at-task", "-T", "--timeout"})


def split(argv: list[str]) -> tuple[list[str], list[str]]:
    """(options, playbooks) of an ansible-playbook command line."""
    options: list[str] = []
    playbooks: list[str] = []
    taking = False
    for arg in argv:
        if taking:
            options.append(arg)
            taking = False
        elif arg.startswith("-"):
            options.append(arg)
            taking = arg in _VALUED
        else:
            playbooks.append(arg)
    return options, playbooks


def _translated(options: list[str]) -> list[str]:
    """``-c/--connection X`` as ``-e ansible_connection=X`` (kprov has no connection option;
    the scripts pass it only where every host of their inventory is local)."""
    out: list[str] = []
    pending = False
    for arg in options:
        if pending:
            out += ["-e", f"ansible_connection={arg}"]
            pending = False
        elif arg in ("-c", "--connection"):
            pending = True
        elif arg.startswith("--connection="):
            out += ["-e", f"ansible_connection={arg.partition('=')[2]}"]
        else:
            out.append(arg)
    return out


def _inventory(options: list[str], env: dict[str, str]) -> list[str]:
    """ansible-playbook without ``-i`` reads /etc/ansible/hosts, absent here: an empty
    inventory (its plays on ``localhost`` run on the implicit localhost, as Ansible's)."""
    if any(o in ("-i", "--inventory") or o.startswith(("--inventory=", "-i")) for o in options):
        return []
    empty = Path(env.get("OUTPUT_DIR") or tempfile.gettempdir()) / "kprov-empty-inventory"
    empty.write_text("")
    return ["-i", str(empty)]


def _from_env(env: dict[str, str]) -> list[str]:
    """ansible-core's settings the scripts set in the environment, as kprov's options."""
    force = env.get("ANSIBLE_FORCE_HANDLERS", "").strip().lower() in ("1", "true", "yes", "on")
    return ["--force-handlers"] if force else []


def command(argv: list[str], env: dict[str, str], playbook: str) -> list[str]:
    options = _translated(split(argv)[0])
    options += _inventory(options, env) + _from_env(env)
    roles = [f"--roles-path={p}" for p in env.get("ANSIBLE_ROLES_PATH", "").split(":") if p]
    return [str(_BIN / "kprov"), "apply", "--output=ansible", *options, *roles, playbook]


def main() -> int:
    argv = sys.argv[1:]
    _, playbooks = split(argv)
    if not playbooks:
        return subprocess.call([str(_BIN / "kprov"), "apply", "--output=ansible", *argv])
    for playbook in playbooks:
        rc = subprocess.call(command(argv, dict(os.environ), playbook))
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
