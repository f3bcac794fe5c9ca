"""Which module names Ansible itself would accept, so kprov can tell a skipped branch from a typo.

Real roles carry tasks for other platforms (``yum``, ``pacman``, ``ansible.posix.selinux``)
behind a false ``when:``. Ansible parses those tasks and never runs them; kprov must too. So a
task naming a module kprov lacks is loaded as a *deferred* task when Ansible would know the
name — an ``ansible-core`` module, or any fully qualified collection name outside
``ansible.builtin`` — and fails only if it actually runs, naming the missing module. A name
neither knows (``lineinfle``) is still a load-time error with a suggestion.

The list is ansible-core's own module set (2.15-2.18) and the short names of common
collection modules (``timezone``, ``mount``, ``authorized_key``, ...), which Ansible routes to
their collections; when ansible-core is installed beside kprov, its own routing table
(``ansible_builtin_runtime.yml``) adds every other routed short name.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import yaml

__all__ = ["ANSIBLE_CORE_MODULES", "deferrable", "missing_module_message"]

ANSIBLE_CORE_MODULES = frozenset(
    """
    add_host apt apt_key apt_repository assemble assert async_status blockinfile command copy
    cron deb822_repository debconf debug dnf dnf5 dpkg_selections expect fail fetch file find
    gather_facts get_url getent git group group_by hostname import_playbook import_role
    import_tasks include_role include_tasks include_vars iptables known_hosts lineinfile meta
    mount_facts package package_facts pause ping pip raw reboot replace rpm_key script service
    service_facts set_fact set_stats setup shell slurp stat subversion systemd systemd_service
    sysvinit tempfile template unarchive uri user validate_argument_spec wait_for
    wait_for_connection yum yum_repository
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_ROUTED_COMMON = frozenset(
    """
    acl alternatives at authorized_key capabilities filesystem firewalld gem htpasswd ini_file
    locale_gen lvg lvol make modprobe mount npm pacman pam_limits pamd parted patch pkgng seboolean
    sefcontext selinux seport synchronize sysctl timezone ufw xattr zypper zypper_repository
    """.split()  # noqa: SIM905
)
_BUILTIN_PREFIXES = ("ansible.builtin.", "ansible.legacy.")


@functools.cache
def _ansible_routed() -> frozenset[str]:
    """Short module names ansible-core routes to a collection (empty without ansible-core)."""
    try:
        spec = importlib.util.find_spec("ansible")
    except (ImportError, ValueError):
        return frozenset()
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    table = Path(next(iter(spec.submodule_search_locations))) / "config" / "ansible_builtin_runtime.yml"
    try:
        data = yaml.safe_load(table.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return frozenset()
    return frozenset((data.get("plugin_routing") or {}).get("modules") or {})


def deferrable(name: str) -> bool:
    """True when Ansible would load a task using ``name`` (so kprov defers the error to run time):
    a core or collection name, or a templated one (ansible-core templates it when the task runs)."""
    if "{{" in name:
        return True
    for prefix in _BUILTIN_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :] in ANSIBLE_CORE_MODULES
    if name in ANSIBLE_CORE_MODULES or name in _ROUTED_COMMON or name in _ansible_routed():
        return True
    parts = name.split(".")
    return len(parts) >= 3 and all(p.isidentifier() for p in parts)


def missing_module_message(name: str) -> str:
    """What a deferred task says when it runs."""
    return (
        f"module '{name}' is not implemented by kprov (Ansible has it); run this role with "
        "ansible-playbook, or guard the task with a `when:` that is false on this host"
    )
