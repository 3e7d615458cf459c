"""Client family from the User-Agent (a bounded metrics label)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caldav_gateway.clients import client_family


@pytest.mark.parametrize(
    ("user_agent", "family"),
    [
        ("iOS/18.1.1 (22B91) dataaccessd/1.0", "ios"),
        ("iOS/17.5 (21F79) accountsd/1.0", "ios"),
        ("iOS/10.3.3 (14G60) dataaccessd/1.0", "ios"),
        ("iOS/9.3.5 (13G36) remindd/1.0", "ios"),
        ("iPadOS/17.0 (21A329) dataaccessd/1.0", "ios"),
        ("iPhone OS/9.3 (13E233) accountsd/1.0", "ios"),
        ("DataAccess/1.0 (13G36)", "ios"),
        ("dataaccessd/1.0", "ios"),
        ("macOS/15.4.1 (24E263) accountsd/113", "macos"),
        ("macOS/14.5 (23F79) CalendarAgent/1000", "macos"),
        ("Mac OS X/10.10.5 (14F27) CalendarAgent/316.1", "macos"),
        ("Mac_OS_X/10.9.5 (13F34) CalendarAgent/176.2", "macos"),
        ("OS X/10.11 (15A284) remindd/1.0", "macos"),
        ("CalendarAgent/316.1", "macos"),
        ("iCal/5.0.3 (1605)", "macos"),
        ("accountsd/113", "other"),  # exists on both: not enough to tell
        ("DAVx5/4.4 (2024/06/01; dav4jvm; okhttp/4.12.0) Android/14", "other"),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Thunderbird/128.0", "other"),
        ("python-requests/2.32", "other"),
        ("", "other"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "macos"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)", "ios"),
    ],
)
def test_client_family(user_agent: str, family: str) -> None:
    assert client_family(user_agent) == family


@given(st.text(max_size=200))
def test_any_text_gets_one_of_three_labels(user_agent: str) -> None:
    assert client_family(user_agent) in ("ios", "macos", "other")
