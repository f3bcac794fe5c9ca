"""A build step's error names the step by its command and keeps pip's last line as the reason."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kprov.bundle import wheelhouse
from kprov.bundle.build_error import BuildError


def test_a_failed_pip_command_is_a_build_error_with_pips_last_line(tmp_path: Path) -> None:
    # (pip makes its destination before it fails: a folder of the test's own, never one outside it)
    with pytest.raises(BuildError) as caught:
        wheelhouse._pip("download", "--no-index", "-d", str(tmp_path / "wheels"),
                        "kprov-no-such-distribution")
    err = caught.value
    assert isinstance(err, RuntimeError)  # callers catching the builds' RuntimeError still do
    assert err.step() == "pip download"
    assert "kprov-no-such-distribution" in err.reason()
    line = err.one_line()
    assert line.startswith("building kprov's wheelhouse failed: `pip download` said: ERROR: ")
    assert "\n" not in line


@pytest.mark.parametrize(("command", "step"), [
    ([sys.executable, "-m", "venv", "--without-pip", "/tmp/v"], "venv"),
    ([sys.executable, "-m", "pip", "-q", "--python", "/v/bin/python", "uninstall", "-y", "x"],
     "pip uninstall"),
    (["/v/bin/python", "-c", "import x", "kprov.kubelet"], "python -c"),
    (["/usr/bin/tar", "-x"], "tar"),
])
def test_the_step_is_named_without_paths_or_options(command: list[str], step: str) -> None:
    assert BuildError("kprov's runtime", command, "boom\n").step() == step


def test_without_a_command_the_reason_is_the_message() -> None:
    message = "the runtime build left out kprov-node: pip did not install kprov"
    err = BuildError("kprov's runtime", [], message)
    assert err.one_line().startswith("building kprov's runtime failed: the runtime build left out kprov-node")
    assert str(err) == message


def test_no_output_still_reads(tmp_path: Path) -> None:
    assert BuildError("kprov's runtime", ["pip"], "  \n").reason() == "no output"
