"""The ``caldav`` library (a real CalDAV client) end to end over TLS through the gateway."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urljoin

import httpx
import pytest
from caldav.davclient import DAVClient

from tests.support.gateway import Gateway

pytestmark = pytest.mark.slow

EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//edgeward//test//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20261101T090000Z
DTSTART:{start}
DTEND:{end}
SUMMARY:{summary}
END:VEVENT
END:VCALENDAR
"""


def _event(uid: str, day: int, summary: str) -> str:
    start = dt.datetime(2026, 12, day, 9, 0)
    return EVENT.format(
        uid=uid,
        start=start.strftime("%Y%m%dT%H%M%SZ"),
        end=(start + dt.timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ"),
        summary=summary,
    )


def discover(gateway: Gateway) -> str:
    """RFC 6764 §5 from the bare host: the well-known URI redirects to the context path."""
    r = httpx.request(
        "PROPFIND", gateway.url + "/.well-known/caldav", verify=gateway.ssl_context(), timeout=10
    )
    assert r.status_code == 301
    assert r.headers["cache-control"] == "no-cache"
    return urljoin(gateway.url + "/.well-known/caldav", r.headers["location"])


def test_discovery_calendar_events_and_sync_tokens(gateway: Gateway) -> None:
    context = discover(gateway)
    assert context == gateway.url + "/"
    with DAVClient(
        url=context,
        username="alice",
        password=gateway.users["alice"],
        ssl_verify_cert=str(gateway.ca),
        timeout=20,
    ) as client:
        principal = client.principal()
        # current-user-principal → /alice/, calendar-home-set under it
        assert str(principal.url).rstrip("/").endswith("/alice")
        calendar = principal.make_calendar(name="Work", cal_id="work")
        assert "Work" in [c.get_display_name() for c in principal.calendars()]

        calendar.add_event(_event("e1@test", 1, "standup"))
        calendar.add_event(_event("e2@test", 2, "review"))
        token_before = calendar.objects_by_sync_token(load_objects=False).sync_token

        found = calendar.search(
            event=True, start=dt.datetime(2026, 12, 2), end=dt.datetime(2026, 12, 3)
        )
        assert [e.icalendar_component["summary"] for e in found] == ["review"]

        event = calendar.event_by_uid("e1@test")
        event.icalendar_component["summary"] = "standup (moved)"
        event.save()
        assert calendar.event_by_uid("e1@test").icalendar_component["summary"] == (
            "standup (moved)"
        )

        calendar.event_by_uid("e2@test").delete()
        changed = calendar.objects_by_sync_token(sync_token=token_before, load_objects=False)
        assert changed.sync_token != token_before
        assert len(list(changed)) == 2  # one modified, one deleted
        assert [e.icalendar_component["uid"] for e in calendar.events()] == ["e1@test"]
