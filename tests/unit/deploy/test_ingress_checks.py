"""`kprov verify`'s Ingress row, judged from the reply (pure)."""

from __future__ import annotations

import pytest

from kprov.deploy.verify.ingress_checks import judge_reply


@pytest.mark.parametrize("status, body, ok", [
    (404, "404 page not found\n", True),
    (404, "<html>nginx</html>", False),  # someone else's proxy on the port
    (200, "hello", False),
    (503, "", False),
    (None, "Connection refused", False),
])
def test_only_our_404_passes(status: int | None, body: str, ok: bool) -> None:
    check = judge_reply("h4", "http://10.77.7.14:80/", status, body)
    assert check.ok is ok
    assert check.name == "Ingress on h4 answers from outside (http://10.77.7.14:80/)"
    if not ok:
        assert check.detail
