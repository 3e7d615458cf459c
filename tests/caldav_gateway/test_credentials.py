"""Malformed ``Authorization`` headers: a 401 counted by the throttle, never a 500."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from caldav_gateway.credentials import basic_problem
from tests.support.gateway import running_gateway


def basic(raw: bytes) -> bytes:
    return b"Basic " + base64.b64encode(raw)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ([basic(b"alice:pw")], None),
        ([basic(b"alice:")], None),  # empty password: Radicale's answer (401)
        ([basic("zoë:pässword".encode())], None),
        ([b"Bearer abc"], None),  # not Basic: Radicale treats it as anonymous
        ([], None),
        ([b"Basic QUFB"], "without a ':'"),  # "AAA", the request of issue 11
        ([basic(b"alice")], "without a ':'"),
        ([b"Basic"], "without a ':'"),
        ([b"Basic QUF"], "not base64"),  # bad padding
        ([b"Basic \xc3\xa9"], "non-ASCII"),
        ([basic(b"\xff\xfe:pw")], "not UTF-8"),
        ([basic(b"a:b"), basic(b"c:d")], "more than one"),
    ],
)
def test_basic_problem(values: list[bytes], problem: str | None) -> None:
    found = basic_problem(values)
    assert found == problem if problem is None else problem in (found or "")


@given(st.lists(st.binary(max_size=80), max_size=3))
def test_basic_problem_never_raises(values: list[bytes]) -> None:
    result = basic_problem(values)
    assert result is None or isinstance(result, str)


@given(st.binary(max_size=60))
def test_basic_credentials_radicale_can_read_are_accepted(raw: bytes) -> None:
    """Whatever passes is what Radicale's own decoding splits without an error."""
    header = basic(raw)
    if basic_problem([header]) is None:
        user, _password = base64.b64decode(header[6:]).decode("utf-8").split(":", 1)
        assert isinstance(user, str)


@pytest.mark.slow
def test_malformed_authorization_is_a_counted_401(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("[throttle]\nbase_delay = 0.0\nmax_delay = 0.0\nlimit = 4\nwindow = 60\n")
    with running_gateway(tmp_path / "gw", ["--config", str(config)]) as gw:
        headers = [b"Basic QUFB", b"Basic QUF", b"Basic \xc3\xa9", basic(b"\xff:x")]
        with httpx.Client(base_url=gw.url, verify=gw.ssl_context(), timeout=30) as c:
            for value in headers:
                r = c.request("PROPFIND", "/alice/", headers={"Authorization": value})  # type: ignore[dict-item]
                assert r.status_code == 401, r.text
                assert r.headers["www-authenticate"].startswith('Basic realm="CalDAV"')
            # the throttle counted them: the next try, even a correct one, is refused
            r = c.request("PROPFIND", "/alice/", auth=("alice", gw.users["alice"]))
            assert r.status_code == 429
        metrics = httpx.get(gw.metrics_url).text
        assert re.search(r"^edgeward_caldav_auth_failures_total 4\.0$", metrics, re.M)
        assert 'edgeward_caldav_requests_total{method="PROPFIND",status="500"}' not in metrics
        log = gw.log_text()
        assert "Traceback" not in log and "QUFB" not in log
        assert "malformed Authorization" in log
