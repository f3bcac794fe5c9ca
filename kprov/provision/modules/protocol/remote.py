"""What is sent to the host for one module run: one command and its standard input.

A new-style module goes as ansible-core's pipelining sends AnsiballZ: a Python program on
the interpreter's standard input (``<python> -``). That program carries the packed files
(zlib-compressed JSON, base64), installs an import hook that serves them from memory (no
file is written; ansible-core writes a zip to a temporary folder instead), hands the
arguments to ``ansible.module_utils.basic`` the way AnsiballZ does (``_ANSIBLE_ARGS``:
``{"ANSIBLE_MODULE_ARGS": ...}``) and runs the module as ``__main__``.

A WANT_JSON, old-style or JSON-args module goes as ansible-core sends it without
pipelining: the module file and an arguments file (JSON; ``key=value`` words for an
old-style module) in a private temporary folder, run as ``<interpreter from its first
line> <module> <arguments file>`` (or executed itself when it has no ``#!`` line), the
folder removed afterwards. Here the files travel in the same shell script that runs them
(``/bin/sh -s``), so it is one command, not three.
"""

from __future__ import annotations

import base64
import json
import shlex
import zlib
from collections.abc import Mapping
from typing import Any

from kprov.provision.modules.protocol.hostcache import cached_program, full_program, head_digest
from kprov.provision.modules.protocol.pack import ModulePack

__all__ = ["interpreter_for", "module_command", "payload_head"]

# The part of the program that is the same for every run of a module (its files, the import
# hook): built once per pack (``payload_head``); only the arguments' tail is rendered per task.
# The hook is a plain finder/loader (no ``importlib.abc``, whose import pulls in
# ``importlib.resources`` on every module run).
_HEAD = '''import base64, json, runpy, sys, zlib
import importlib.util
FILES = json.loads(zlib.decompress(base64.b64decode(%(files)r)))
class KprovModuleFiles:
    def find_spec(self, name, path=None, target=None):
        if name not in FILES:
            return None
        is_pkg = FILES[name][0]
        where = "<kprov>/" + name.replace(".", "/") + ("/__init__.py" if is_pkg else ".py")
        spec = importlib.util.spec_from_loader(name, self, origin=where, is_package=is_pkg)
        spec.has_location = True
        return spec
    def _entry(self, name):
        return FILES.get(%(fqn)r if name == "__main__" else name, (False, None))
    def is_package(self, name):
        return self._entry(name)[0]
    def get_source(self, name):
        return self._entry(name)[1]
    def get_code(self, name):
        return compile(FILES[name][1], "<kprov>/" + name.replace(".", "/") + ".py", "exec", dont_inherit=True)
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        exec(self.get_code(module.__spec__.name), module.__dict__)
sys.meta_path.insert(0, KprovModuleFiles())
import ansible.module_utils.basic as basic
'''
_TAIL = '''basic._ANSIBLE_ARGS = %(args)r.encode("utf-8")
runpy.run_module(%(fqn)r, init_globals=dict(_module_fqn=%(fqn)r, _modlib_path=None),
                 run_name="__main__", alter_sys=True)
'''


def interpreter_for(command: str, task_vars: Mapping[str, Any]) -> str:
    """The interpreter of a ``#!`` line as ansible-core picks it: ``ansible_<name>_interpreter``
    when set (``ansible_python_interpreter`` for any python; ``auto`` and its variants are
    the host's ``/usr/bin/python3``, what discovery finds on the Debian hosts kprov targets)."""
    words = shlex.split(command) if command else []
    if not words:
        return ""
    program = words[0].rsplit("/", 1)[-1]
    if program == "env" and len(words) > 1:
        program = words[1]
    key = "python" if program.startswith("python") else program
    chosen = task_vars.get(f"ansible_{key}_interpreter")
    if key == "python" and (not chosen or str(chosen).startswith("auto")):
        chosen = "/usr/bin/python3"
    if chosen:
        return " ".join([shlex.quote(str(chosen)), *[shlex.quote(w) for w in words[1:] if program != "env"]])
    return command


def module_command(
    pack: ModulePack, args: Mapping[str, Any], task_vars: Mapping[str, Any], *, cached: bool = False
) -> tuple[str, bytes]:
    """The command and its standard input that run ``pack`` with ``args`` (internal ``_ansible_``
    arguments included). ``cached``: a new-style module's head from the host's cache
    (hostcache), else the program that sends it (and caches it there)."""
    if pack.style == "new":
        arguments = json.dumps({"ANSIBLE_MODULE_ARGS": dict(args)}, default=str)
        head = payload_head(pack)
        start = cached_program(pack.head_digest) if cached else full_program(head, pack.head_digest)
        program = start + (_TAIL % {"args": arguments, "fqn": pack.source.fqn}).encode()
        python = interpreter_for("/usr/bin/python", task_vars)
        return f"{python} -", program
    return "/bin/sh -s", _script(pack, args, task_vars).encode()


def payload_head(pack: ModulePack) -> bytes:
    """The args-independent start of a new-style module's program: its files compressed and
    the import hook. Built once per pack (a pack is built once per module file per run), so
    a module run many times costs one compression, not one per task."""
    if pack.head is None:
        files = dict(pack.files)
        files[pack.source.fqn] = (False, pack.text.decode("utf-8", "replace"))
        blob = base64.b64encode(zlib.compress(json.dumps(files).encode(), 6)).decode()
        pack.head = (_HEAD % {"files": blob, "fqn": pack.source.fqn}).encode()
        pack.head_digest = head_digest(pack.head)
    return pack.head


def _script(pack: ModulePack, args: Mapping[str, Any], task_vars: Mapping[str, Any]) -> str:
    text = pack.text
    if pack.style == "jsonargs":
        as_json = json.dumps(dict(args), default=str).encode()
        text = text.replace(b"<<INCLUDE_ANSIBLE_MODULE_JSON_ARGS>>", as_json)
    if pack.style == "old":
        arguments = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in args.items())
    else:
        arguments = json.dumps(dict(args), default=str)
    interpreter = interpreter_for(pack.shebang, task_vars)
    run = f'{interpreter} "$d/module" "$d/args"' if interpreter else '"$d/module" "$d/args"'
    return (
        "umask 077\n"
        'd=$(mktemp -d "${TMPDIR:-/tmp}/ansible-kprov.XXXXXXXX") || exit 1\n'
        "trap 'rm -rf \"$d\"' EXIT\n"
        f"base64 -d > \"$d/module\" <<'KPROV_MODULE'\n{_b64(text)}KPROV_MODULE\n"
        f"base64 -d > \"$d/args\" <<'KPROV_ARGS'\n{_b64(arguments.encode())}KPROV_ARGS\n"
        'chmod 0700 "$d/module"\n'
        f"{run} < /dev/null\n"
    )


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode()
