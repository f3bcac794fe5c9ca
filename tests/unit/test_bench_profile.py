"""The density bench's reading of py-spy's collapsed stacks: self time per leaf frame."""

from __future__ import annotations

from tests.bench._profile import top_frames

RAW = """\
main (/work/wt/x/kprov/a.py:1);encode (/usr/lib/python3/dist-packages/orjson/__init__.py:9) 6
main (/work/wt/x/kprov/a.py:1);parse (/x/.venv/lib/python3.11/site-packages/kprov/api/p.py:40) 3
main (kprov/a.py:1) 1
garbage line
"""


def test_top_frames_ranks_leaf_frames_by_samples_with_short_paths() -> None:
    top = top_frames(RAW, 2)
    assert [round(share) for share, _ in top] == [60, 30]
    assert top[0][1] == "encode (orjson/__init__.py:9)"
    assert top[1][1] == "parse (kprov/api/p.py:40)"


def test_no_samples_no_frames() -> None:
    assert top_frames("") == []


def test_within_attributes_samples_to_the_innermost_project_frame() -> None:
    top = top_frames(RAW, 2, within="kprov/")  # orjson's samples count for its caller
    assert [(round(share), frame) for share, frame in top] == [
        (70, "main (kprov/a.py:1)"), (30, "parse (kprov/api/p.py:40)")
    ]
