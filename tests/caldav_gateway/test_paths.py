"""The path Radicale acts on, and probe families."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caldav_gateway.paths import colliding_names, family_of, is_well_known_redirect, normalise


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("/", "/"),
        ("", "/"),
        ("//alice//cal/", "/alice/cal/"),
        ("/principals/../alice/", "/alice/"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/alice/./cal", "/alice/cal"),
        ("/alice/..", "/"),
        ("/.well-known//caldav/", "/.well-known/caldav/"),
    ],
)
def test_normalise(raw: str, normalised: str) -> None:
    assert normalise(raw) == normalised


@pytest.mark.parametrize(
    ("path", "family"),
    [
        ("/principals/", "principals"),
        ("/Principals/users/a/", "principals"),
        ("/dav/principals/", "dav"),
        ("/caldav/v2/x/events", "caldav"),
        ("/calendar/dav/a@b/user/", "calendar"),
        ("/dav.php/calendars/a/", "dav.php"),
        ("/remote.php/dav/", "remote.php"),
        ("/.well-known/webdav", "well-known"),
        ("/favicon.ico", "favicon"),
        ("/.web/", "web"),
        ("/carol/", "other"),
        ("/", "other"),
    ],
)
def test_family_of(path: str, family: str) -> None:
    assert family_of(normalise(path)) == family


def test_colliding_names() -> None:
    assert colliding_names({"alice", "dav", "Principals", "calendar"}) == [
        "Principals",
        "calendar",
        "dav",
    ]


@given(st.text(alphabet="/.%aAlice-_~", max_size=40))
def test_normalised_paths_are_stable_and_clean(raw: str) -> None:
    n = normalise(raw)
    assert n.startswith("/")
    assert normalise(n) == n
    assert "//" not in n
    assert all(seg not in (".", "..") for seg in n.split("/"))
    assert is_well_known_redirect(n) == is_well_known_redirect(normalise(n))
