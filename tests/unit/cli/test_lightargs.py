"""kprov.cli.lightargs: plain arguments coerced as typer does, without importing pydantic."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from kprov.cli.lightargs import _MISS, light_value


def test_apply_parses_its_arguments_without_pydantic(tmp_path) -> None:
    # importing pydantic and building typer's adapters was 0.12-0.15 s of a no-op apply's CPU
    code = ("import sys; sys.argv = ['kprov', 'apply', '-i', sys.argv[1], '--forks', '3', '-v', '-t', 'a,b',"
            " '-e', 'x=1', '--json']\n"
            "import kprov.cli.main as m\n"
            "try:\n    m.main()\nexcept SystemExit as exc:\n    print('exit', exc.code)\n"
            "print('pydantic' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "none.yml")], capture_output=True,
                          text=True, timeout=120)
    assert proc.stdout.strip().splitlines()[-2:] == ["exit 1", "False"], proc.stdout + proc.stderr
    assert "does not exist" in " ".join(proc.stderr.split())  # the command itself ran


@pytest.mark.parametrize(("annotation", "value"), [
    (str, "x"), (str, ""), (bool, True), (bool, False), (int, 0), (int, 12), (int, "5"), (int, "0"),
    (list[str], ("a", "b")), (list[str], ["a"]), (list[str], ()),
])
def test_a_plain_value_is_what_typer_makes_of_it(annotation: Any, value: Any) -> None:
    from typer._coercion import build_runtime_param, resolve_type_descriptor
    from typer.models import OptionInfo

    typer_value = build_runtime_param(resolve_type_descriptor(annotation, OptionInfo()))._coerce_value(
        value, param=None, ctx=None)
    assert light_value(annotation, value) == typer_value
    assert type(light_value(annotation, value)) is type(typer_value)


@pytest.mark.parametrize(("annotation", "value"), [
    (int, "007"), (int, "-3"), (int, " 5"), (int, "1_000"), (int, "١"), (int, 1.0), (str, 5),
    (bool, "yes"), (list[str], ("a", 1)), (list[int], ("1",)), (float, "1.5"),
])
def test_anything_else_is_left_to_typer(annotation: Any, value: Any) -> None:
    assert light_value(annotation, value) is _MISS
