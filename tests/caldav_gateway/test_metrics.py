"""The gateway's metrics, read from its own /metrics address after real requests."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.gateway import Gateway

IOS = "iOS/17.5 (21F79) dataaccessd/1.0"
MACOS = "macOS/15.4.1 (24E263) accountsd/113"


def sample(text: str, name: str, labels: str = "") -> float:
    pattern = rf"^{re.escape(name)}{re.escape('{' + labels + '}' if labels else '')} (\S+)$"
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else 0.0


@pytest.mark.parametrize(
    ("method", "path", "user_agent", "metric", "labels"),
    [
        ("PROPFIND", "/principals/", IOS, "probe", 'client="ios",family="principals"'),
        ("PROPFIND", "/dav/principals/", MACOS, "probe", 'client="macos",family="dav"'),
        ("GET", "/calendar/dav/a@b/user/", "curl/8", "probe", 'client="other",family="calendar"'),
        ("PROPFIND", "/zed/", IOS, "probe", 'client="ios",family="other"'),
        ("FOO", "/", IOS, "requests", 'method="other",status="405"'),
        ("PROPFIND", "/", IOS, "requests", 'method="PROPFIND",status="401"'),
        ("GET", "/.well-known/caldav", IOS, "requests", 'method="GET",status="301"'),
    ],
)
def test_each_answer_is_counted_once_with_bounded_labels(
    gateway: Gateway, method: str, path: str, user_agent: str, metric: str, labels: str
) -> None:
    name = {
        "probe": "edgeward_caldav_probe_not_found_total",
        "requests": "edgeward_caldav_requests_total",
    }[metric]
    before = sample(httpx.get(gateway.metrics_url).text, name, labels)
    with httpx.Client(verify=gateway.ssl_context()) as c:
        for _ in range(3):
            c.request(method, gateway.url + path, headers={"User-Agent": user_agent})
    after = sample(httpx.get(gateway.metrics_url).text, name, labels)
    assert after - before == 3


def test_metrics_are_not_served_on_the_caldav_port(gateway: Gateway) -> None:
    r = httpx.get(gateway.url + "/metrics", verify=gateway.ssl_context())
    assert r.status_code == 404
    assert "edgeward_" not in r.text
    text = httpx.get(gateway.metrics_url).text
    assert sample(text, "edgeward_caldav_certificate_not_after_seconds") > 1.7e9
