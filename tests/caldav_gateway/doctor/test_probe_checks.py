"""The probe checks against the real gateway (404s) and Radicale served directly (401s)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from caldav_gateway.doctor.probe_checks import (
    PROBE_PATHS,
    all_probe_checks,
    check_probes,
    probe_paths,
)
from caldav_gateway.doctor.target import Target
from edgeward.secrets import Secret
from tests.support.gateway import Gateway, direct_radicale


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("alice", "/principals/users/alice/"),
        ("a b", "/principals/users/a%20b/"),
        ("alice@example.org", "/principals/users/alice@example.org/"),  # Apple's account names
        ("../x", "/principals/users/..%2Fx/"),  # never a path of its own
    ],
)
def test_probe_paths_are_built_from_the_quoted_user(user: str, expected: str) -> None:
    paths = probe_paths(user)
    assert len(paths) == len(PROBE_PATHS) and expected in paths
    assert all(p.startswith("/") and "{" not in p for p in paths)


def _target(gw: Gateway, port: int, user: str = "alice") -> Target:
    return Target.parse(f"https://127.0.0.1:{port}/", user, Secret(gw.users[user]), gw.ca)


def test_the_gateway_passes_every_probe_anonymous_and_with_credentials(gateway: Gateway) -> None:
    target = _target(gateway, gateway.port)
    with (
        target.client(trusted=True) as client,
        target.client(trusted=True, with_auth=True) as authed,
    ):
        checks = all_probe_checks(target, client, authed)
    assert [c.id for c in checks[:2]] == ["well-known", "root-401"]
    assert {c.id for c in checks[2:]} == {f"probe {p}" for p in probe_paths("alice")}
    assert [c for c in checks if c.status != "pass"] == []
    assert all("with credentials" in c.detail for c in checks[2:])


@pytest.fixture(scope="module")
def radicale_port(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp: Path = tmp_path_factory.mktemp("direct")
    with direct_radicale(tmp, gateway.cert, gateway.key, gateway.htpasswd) as port:
        yield port


def test_radicale_served_directly_fails_the_probes_with_the_fix(
    gateway: Gateway, radicale_port: int
) -> None:
    target = _target(gateway, radicale_port)
    with target.client(trusted=True) as client:
        checks = check_probes(target, client, None)
    by_id = {c.id: c for c in checks}
    principals = by_id["probe /principals/"]
    assert principals.failed and "401 (re-prompts the password)" in principals.detail
    assert "caldav-gateway serve" in principals.fix
    assert "with credentials" not in principals.detail  # no authed client, no password sent


def test_nothing_listening_is_a_failed_check_not_an_exception(gateway: Gateway) -> None:
    from tests.support.net import free_port

    target = Target.parse(f"https://127.0.0.1:{free_port()}/", "alice", Secret("x"), gateway.ca)
    with target.client(trusted=True) as client:
        checks = check_probes(target, client, None)
    assert all(c.failed and "no answer" in c.detail for c in checks)
