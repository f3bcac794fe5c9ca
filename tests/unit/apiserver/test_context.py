"""The API server's context holds its services as typed fields, not in an untyped dict."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from kprov.cluster.apiserver import context
from kprov.cluster.apiserver.context import ApiContext

APISERVER = Path(context.__file__).resolve().parent


def test_no_untyped_service_bag() -> None:
    fields = {f.name: f.type for f in dataclasses.fields(ApiContext)}
    assert "extras" not in fields
    public = {name: kind for name, kind in fields.items() if not name.startswith("_")}
    assert all("Any" not in str(kind) for kind in public.values()), public
    uses = [
        f"{path.relative_to(APISERVER)}:{n}"
        for path in APISERVER.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bctx\.extras\b|\.extras\[", line)
    ]
    assert uses == []


def test_shared_makes_one_per_class() -> None:
    ctx = ApiContext(None, None, None, None)  # type: ignore[arg-type]
    made: list[Any] = []

    class Thing:
        def __init__(self) -> None:
            made.append(self)

    first = ctx.shared(Thing, Thing)
    assert ctx.shared(Thing, Thing) is first and len(made) == 1
    assert isinstance(first, Thing)
