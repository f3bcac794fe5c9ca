"""Limits that hold (issue 72): the structure figures of ``tests/structure_figures.py`` against
the ratchet held there, and no benchmark figure quoted in a docstring.

The ratchet only moves down: a figure above its value fails (the code grew past a limit it
had met), and a figure below it fails too, until the value is lowered to what is now true, so
an improvement cannot be given back unnoticed. docs/decisions/0051-figures-live-in-records.md
says why figures belong in the decision records, not in docstrings."""

from __future__ import annotations

import pytest

from tests.structure_figures import (
    MODULE_LIMITS,
    RATCHET,
    ROOT,
    TARGETS,
    Figures,
    current,
    docstring_figures,
    measure,
    quotes_figure,
)

# Files that still quote figures in a docstring: none since issue 72 (their figures are in the
# decision records); a file that quotes one fails the test.
QUOTING_FIGURES: frozenset[str] = frozenset()


@pytest.fixture(scope="module")
def figures() -> Figures:
    return measure()


@pytest.fixture(scope="module")
def quoted() -> list[tuple[str, str, str]]:
    return docstring_figures()


def _offenders(figures: Figures, name: str) -> list[str]:
    if name == "files_over_500_lines":
        return [f"{lines:5d}  {where}" for where, lines in figures.long_files]
    if name == "functions_over_80_lines":
        return [f"{lines:5d}  {where}" for where, lines in figures.long_functions]
    return [f"{count:5d}  {folder}" for folder, count in figures.folders[:3]]


@pytest.mark.parametrize("name", sorted(RATCHET))
def test_the_figure_holds_its_ratchet(figures: Figures, name: str) -> None:
    value, limit = current(figures)[name], RATCHET[name]
    listed = "\n".join(_offenders(figures, name))
    assert value <= limit, f"{name} = {value}, over its ratchet {limit}; split what grew:\n{listed}"
    assert value >= limit, (
        f"{name} = {value}, below its ratchet {limit}: lower RATCHET['{name}'] in "
        f"tests/structure_figures.py to {value} (the ratchet only moves down)"
    )


@pytest.mark.parametrize("module", sorted(MODULE_LIMITS))
def test_a_bounded_module_stays_under_its_limit(module: str) -> None:
    lines = len((ROOT.parent / module).read_text().splitlines())
    assert lines < MODULE_LIMITS[module], f"{module}: {lines} lines, its limit is {MODULE_LIMITS[module]}"


def test_the_ratchet_and_the_targets_name_the_same_figures() -> None:
    assert set(RATCHET) == set(TARGETS)
    assert all(RATCHET[name] >= 0 and TARGETS[name] >= 0 for name in TARGETS)


def test_no_new_docstring_quotes_a_benchmark_figure(quoted: list[tuple[str, str, str]]) -> None:
    quoting = {where.rsplit(":", 1)[0] for where, _, _ in quoted}
    new = sorted(quoting - QUOTING_FIGURES)
    lines = [f"{where}: {figure!r} in {line!r}" for where, figure, line in quoted
             if where.rsplit(":", 1)[0] in new]
    assert not new, ("docstrings explain, decision records hold the figures "
                     "(docs/decisions/0051-figures-live-in-records.md):\n" + "\n".join(lines))


def test_the_list_of_files_quoting_figures_only_shrinks(quoted: list[tuple[str, str, str]]) -> None:
    quoting = {where.rsplit(":", 1)[0] for where, _, _ in quoted}
    cleaned = sorted(QUOTING_FIGURES - quoting)
    assert not cleaned, f"no longer quoting figures: take them off QUOTING_FIGURES: {cleaned}"


@pytest.mark.parametrize(("line", "figure"), [
    ("``api_create_per_s`` in tests/bench/bench_apiserver.py", "api_create_per_s"),
    ("the plugin cost ~110 us a request", "~110 us"),
    ("built in 7.5-11.6 s without the cache", "7.5-11.6 s"),
    ("an RSA verify, 40 us, is cached", "40 us"),
    ("up to 4.5 CPU-s a host", "4.5 CPU-s"),
    ("3-10x their in-loop figure", "3-10x"),
    ("cost it 0.3 s of its start (measured with importtime)", "0.3 s"),
    ("Exponential back-off per key: 10 s doubling to 5 min.", None),
    ("renewed when 80% of its lifetime has passed", None),
    ("a ``pod_status`` write and a ``duration_s`` field", None),
    ("kubectl's age format: 45s, 5m, 3m20s", None),
])
def test_what_counts_as_a_figure(line: str, figure: str | None) -> None:
    assert quotes_figure(line) == figure
