"""docs/ENGINE_COVERAGE.md is what tests/engine_coverage.py generates from the code now: a
module, keyword, filter, test or lookup added to (or an option missing from) the engine
without regenerating the page fails here. Skipped when the installed ansible-core is not
the one the page was generated against (its options and names are the other side)."""

from __future__ import annotations

import ansible.release
import pytest

from tests.engine_coverage import PAGE, page_version, render_page


@pytest.fixture(scope="module")
def page() -> str:
    return render_page()


def test_the_checked_in_coverage_table_is_current(page: str) -> None:
    checked_in = PAGE.read_text(encoding="utf-8")
    if page_version(checked_in) != ansible.release.__version__:
        pytest.skip(f"the page is of ansible-core {page_version(checked_in)}, "
                    f"{ansible.release.__version__} is installed")
    assert page == checked_in, "stale: run .venv/bin/python tests/engine_coverage.py"


def test_the_table_names_what_kprov_has_and_lacks(page: str) -> None:
    assert "| `ansible.builtin.file` | supported |" in page
    assert "| `ansible.builtin.set_fact` | supported | engine action |" in page
    assert "| `dnf` | no |" in page  # an ansible-core module kprov does not run
    assert "| `loop` | supported |" in page and "| `remote_user` | no |" in page
    assert "| `dict2items` | supported |" in page and "| `first_found` | supported |" in page
