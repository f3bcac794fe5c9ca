"""Read a module's answer as ansible-core reads it (``ActionBase._parse_returned_data`` and
the task executor after it).

The JSON object is found in the standard output past any lines before it (a MOTD, a
``tcgetattr`` complaint) and after it (a warning about that junk is added); output with no
JSON object is a failure: ``msg`` ``MODULE FAILURE: <reason>`` plus the hint, with
``module_stdout``, ``module_stderr``, ``rc`` and ``exception`` (a traceback). Then: keys
starting ``_ansible_`` are dropped; ``stdout_lines``/``stderr_lines`` are added beside
``stdout``/``stderr``; a result without ``failed`` fails when its ``rc`` is not 0; ``changed``
defaults to false. Everything else the module returned (``msg``, ``rc``, ``diff``,
``ansible_facts``, ``warnings``, ``deprecations``, ``invocation`` — which AnsibleModule
already masked for ``no_log`` options) is kept as it came.
"""

from __future__ import annotations

import json
from typing import Any

from kprov.provision.modules.base import ModuleResult

__all__ = ["parse_answer", "to_result"]

_HINT = "\nSee stdout/stderr for the exact error"


def _json_part(text: str) -> tuple[str, list[str]]:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("{")), None)
    if start is None:
        raise ValueError("No start of json char found")
    lines = lines[start:]
    back = next((i for i, line in enumerate(reversed(lines)) if line.strip().endswith("}")), None)
    if back is None:
        raise ValueError("No end of json char found")
    warnings = []
    if back > 0:
        junk = lines[len(lines) - back:]
        if any(line.strip() for line in junk):
            warnings.append("Module invocation had junk after the JSON data: " + "\n".join(junk))
    return "\n".join(lines[: len(lines) - back]), warnings


def parse_answer(stdout: str, stderr: str, rc: int, interpreter: str = "") -> dict[str, Any]:
    try:
        text, warnings = _json_part(stdout)
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("the module's answer is not a JSON object")
        if warnings:
            data.setdefault("warnings", []).extend(warnings)
    except ValueError as err:
        data = {"failed": True, "module_stdout": stdout, "module_stderr": stderr}
        if stderr.startswith("Traceback"):
            data["exception"] = stderr
        elif stdout.startswith("Traceback"):
            data["exception"] = stdout
        msg = f"MODULE FAILURE: {err}"
        program = interpreter.split(" ", 1)[0].strip("'") if interpreter else ""
        if program and any(f"{program}: {why}" in out for out in (stdout, stderr)
                           for why in ("No such file or directory", "not found")):
            msg = "The module failed to execute correctly, you probably need to set the interpreter."
        data["msg"] = msg + _HINT
        data["rc"] = rc
    return data


def to_result(data: dict[str, Any]) -> ModuleResult:
    data = {k: v for k, v in data.items() if not k.startswith("_ansible_")}
    for stream in ("stdout", "stderr"):
        if stream in data and f"{stream}_lines" not in data:
            data[f"{stream}_lines"] = str(data.get(stream) or "").splitlines()
    # without "failed", an rc other than 0 fails (the task executor's rule)
    failed = bool(data.pop("failed")) if "failed" in data else data.get("rc", 0) not in (0, "0")
    changed = bool(data.pop("changed", False))
    skipped = bool(data.pop("skipped", False))
    msg = data.get("msg")
    diff = data.get("diff")
    entries = [d for d in (diff if isinstance(diff, list) else [diff]) if isinstance(d, dict)]
    return ModuleResult(changed=changed, failed=failed, skipped=skipped,
                        msg=msg if isinstance(msg, str) else "", diff=entries, data=data)
