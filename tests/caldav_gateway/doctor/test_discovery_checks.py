"""Discovery step by step against the real gateway: each broken link is the one named."""

from __future__ import annotations

import pytest

from caldav_gateway.doctor.discovery_checks import check_discovery
from caldav_gateway.doctor.target import Target
from edgeward.secrets import Secret
from tests.support.gateway import Gateway

STEPS = ["discovery.principal", "discovery.home", "discovery.calendars", "discovery.options"]


def _run(gw: Gateway, path: str, user: str, password: str) -> dict[str, tuple[str, str]]:
    target = Target.parse(f"{gw.url}{path}", user, Secret(password), gw.ca)
    with target.client(trusted=True, with_auth=True) as authed:
        checks = check_discovery(target, authed)
    assert [c.id for c in checks] == STEPS
    return {c.id: (c.status, c.detail) for c in checks}


@pytest.mark.parametrize("path", ["/", "/alice/"])  # where a user may point the client
def test_a_real_user_walks_every_step(gateway: Gateway, path: str) -> None:
    gateway.mkcalendar("alice", "discovery")
    got = _run(gateway, path, "alice", gateway.users["alice"])
    assert [s for s, _ in got.values()] == ["pass"] * 4
    assert got["discovery.principal"][1] == f"{path} → /alice/"
    assert got["discovery.calendars"][1].startswith("1: ")
    assert "calendar-access" in got["discovery.options"][1]


def test_a_home_without_calendars_is_a_warning_not_a_failure(gateway: Gateway) -> None:
    got = _run(gateway, "/", "bob", gateway.users["bob"])
    assert got["discovery.calendars"] == ("warn", "/bob/ holds no calendar yet")
    assert got["discovery.options"][0] == "pass"


def test_a_refused_password_fails_the_first_step_and_skips_the_rest(gateway: Gateway) -> None:
    got = _run(gateway, "/", "alice", "not-the-password")
    assert got["discovery.principal"][0] == "fail"
    assert "password for 'alice' was refused" in got["discovery.principal"][1]
    assert "not-the-password" not in str(got)
    assert [got[s][0] for s in STEPS[1:]] == ["skip"] * 3


def test_without_a_trusted_connection_nothing_is_sent() -> None:
    target = Target.parse("https://127.0.0.1:1/", "alice", Secret("pw"))
    checks = check_discovery(target, None)  # port 1: any request would fail, not skip
    assert [c.id for c in checks] == STEPS
    assert all(c.status == "skip" and "TLS not trusted" in c.detail for c in checks)
