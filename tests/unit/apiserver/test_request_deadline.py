"""?timeout= parsed as Go's time.ParseDuration; a malformed one is kube-apiserver's 400."""

from __future__ import annotations

import pytest

from kprov.cluster.api.errors import ApiError
from kprov.cluster.apiserver.front.request_deadline import check_timeout, parse_go_duration
from kprov.cluster.apiserver.request.requestinfo import RequestInfo


def test_go_durations_and_go_errors() -> None:
    assert parse_go_duration("1h30m") == 5400.0
    assert parse_go_duration("1.5s") == 1.5 and parse_go_duration("300ms") == pytest.approx(0.3)
    assert parse_go_duration("0") == 0.0 and parse_go_duration("-2m") == -120.0
    for text, message in (("invalid", 'time: invalid duration "invalid"'),
                          ("5", 'time: missing unit in duration "5"'),
                          ("5x", 'time: unknown unit "x" in duration "5x"')):
        with pytest.raises(ValueError, match=message):
            parse_go_duration(text)


def test_a_malformed_timeout_is_refused_except_on_long_running_requests() -> None:
    get = RequestInfo("", "v1", "namespaces", "", "", "", "list")
    check_timeout("32s", get)
    check_timeout(None, get)
    with pytest.raises(ApiError) as caught:
        check_timeout("invalid", None)  # /version: a non-resource request
    assert caught.value.code == 400
    expected = 'invalid timeout specified in the request URL - time: invalid duration "invalid"'
    assert str(caught.value) == expected
    check_timeout("invalid", RequestInfo("", "v1", "pods", "ns", "", "", "watch"))
    check_timeout("invalid", RequestInfo("", "v1", "pods", "ns", "p", "exec", "create"))

