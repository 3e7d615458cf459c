"""Non-ASCII hrefs, UIDs and usernames: the gateway stores what Radicale direct stores.

Every scenario runs twice in the same test, against the gateway and against ``python -m
radicale`` serving TLS itself (the control, same htpasswd and settings), and the two
transcripts must be equal. Before the gateway handed Radicale its own server's environment
(:mod:`caldav_gateway.wsgi_environ`), ``event%C3%A91.ics`` was listed as
``event%C3%83%C2%A91.ics``, emoji names got 400 and ``jürgen`` got 403 on ``/j%C3%BCrgen/``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import httpx
import pytest
from caldav.davclient import DAVClient

from caldav_gateway.wsgi_environ import RadicaleServerEnviron, wsgi_to_text
from tests.support.gateway import Gateway, direct_radicale, running_gateway

USERS = ("alice", "jürgen", "zoë😀")


@dataclass(frozen=True)
class Server:
    name: str
    url: str  # https://127.0.0.1:PORT
    gateway: Gateway  # the certificate, CA and passwords (shared by both servers)

    def client(self, user: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            auth=(user, self.gateway.users[user]),
            verify=self.gateway.ssl_context(),
            timeout=30,
        )


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    tmp = tmp_path_factory.mktemp("unicode")
    with running_gateway(tmp / "gateway", users=USERS) as gw:
        direct = tmp / "direct"
        direct.mkdir()
        with direct_radicale(
            direct, gw.cert, gw.key, gw.htpasswd, collections=direct / "collections"
        ) as port:
            yield Server("gateway", gw.url, gw), Server("direct", f"https://127.0.0.1:{port}", gw)


# --- the environment itself ------------------------------------------------------------


@pytest.mark.parametrize(
    ("wsgi", "text"),
    [
        ("/alice/", "/alice/"),
        ("/j\u00c3\u00bcrgen/", "/jürgen/"),  # a2wsgi's spelling of /jürgen/
        ("/\u00f0\u009f\u0098\u0080.ics", "/😀.ics"),
        ("/a\u00ff/", "/a\ufffd/"),  # not UTF-8: replaced, like Radicale's server does
        ("/\u015dtono/", "/\u015dtono/"),  # not a latin-1 spelling at all: left alone
        ("", ""),
    ],
)
def test_wsgi_to_text(wsgi: str, text: str) -> None:
    assert wsgi_to_text(wsgi) == text


def test_environ_is_what_radicales_server_builds() -> None:
    seen: dict[str, object] = {}

    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        seen.update(environ)
        return []

    RadicaleServerEnviron(app)(
        {
            "PATH_INFO": "/j\u00c3\u00bcrgen/",
            "SCRIPT_NAME": "/from-os-environ",
            "wsgi.url_scheme": "https",
        },
        lambda *a: None,
    )
    assert seen["PATH_INFO"] == "/jürgen/"
    assert seen["SCRIPT_NAME"] == ""
    assert seen["HTTPS"] == "on"


# --- the same transcript through the gateway and direct ---------------------------------

CALENDAR = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//edgeward//test//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20261101T090000Z
DTSTART:20261201T090000Z
DTEND:20261201T100000Z
SUMMARY:{uid}
END:VEVENT
END:VCALENDAR
"""
PROPFIND = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>'
)
REPORT = (
    '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
    'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>'
    '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/>'
    "</C:comp-filter></C:filter></C:calendar-query>"
)
_HREF = re.compile(r"<(?:\w+:)?href>([^<]*)</(?:\w+:)?href>")


def hrefs(body: str) -> list[str]:
    """The hrefs of a multistatus answer, decoded (servers may choose which bytes to escape)."""
    return sorted(unquote(h) for h in _HREF.findall(body))


def transcript(server: Server, user: str, name: str, calendar: str) -> list[object]:
    """PUT, PROPFIND, REPORT, MOVE, DELETE of ``name``; every status and listing."""
    home = f"/{quote(user)}/"
    cal = f"{home}{quote(calendar)}/"
    other = f"{home}{quote(calendar + '-ü😀')}/"  # MOVE into another non-ASCII collection
    item, moved = f"{cal}{quote(name)}.ics", f"{other}{quote(name)}-moved.ics"
    out: list[object] = []
    with server.client(user) as c:
        r = c.request("PROPFIND", home, headers={"Depth": "0"}, content=PROPFIND)
        out.append(("PROPFIND home", r.status_code))
        out.append(("MKCALENDAR", c.request("MKCALENDAR", cal).status_code))
        out.append(("MKCALENDAR other", c.request("MKCALENDAR", other).status_code))
        r = c.put(
            item,
            content=CALENDAR.format(uid=f"{name}@x").encode(),
            headers={"Content-Type": "text/calendar; charset=utf-8"},
        )
        out.append(("PUT", r.status_code))
        r = c.request("PROPFIND", cal, headers={"Depth": "1"}, content=PROPFIND)
        out.append(("PROPFIND", r.status_code, hrefs(r.text)))
        r = c.request("REPORT", cal, headers={"Depth": "1"}, content=REPORT)
        out.append(("REPORT", r.status_code, hrefs(r.text)))
        r = c.get(item)
        out.append(("GET", r.status_code, f"UID:{name}@x" in r.text))
        r = c.request("MOVE", item, headers={"Destination": server.url + moved})
        out.append(("MOVE", r.status_code))
        r = c.request("PROPFIND", cal, headers={"Depth": "1"}, content=PROPFIND)
        out.append(("PROPFIND after MOVE", r.status_code, hrefs(r.text)))
        r = c.request("PROPFIND", other, headers={"Depth": "1"}, content=PROPFIND)
        out.append(("PROPFIND other after MOVE", r.status_code, hrefs(r.text)))
        out.append(("DELETE", c.delete(moved).status_code))
        r = c.request("PROPFIND", cal, headers={"Depth": "1"}, content=PROPFIND)
        out.append(("PROPFIND after DELETE", r.status_code, hrefs(r.text)))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("name", ["event\u00e91", "event\U0001f6001", "日本語 spaced", "plain"])
def test_hrefs_and_usernames_round_trip_like_radicale(
    servers: tuple[Server, Server], user: str, name: str
) -> None:
    gateway, direct = servers
    calendar = f"cal-{uuid.uuid4().hex[:8]}-é"
    got = transcript(gateway, user, name, calendar)
    want = transcript(direct, user, name, calendar)
    assert got == want
    # The control really stored the name as sent (the comparison cannot pass vacuously).
    cal = f"/{user}/{calendar}/"
    other = f"/{user}/{calendar}-ü😀/"
    assert ("PROPFIND other after MOVE", 207, [other, f"{other}{name}-moved.ics"]) in want
    assert want[1:6] == [
        ("MKCALENDAR", 201),
        ("MKCALENDAR other", 201),
        ("PUT", 201),
        ("PROPFIND", 207, [cal, f"{cal}{name}.ics"]),
        ("REPORT", 207, [f"{cal}{name}.ics"]),
    ]
    assert want[0] == ("PROPFIND home", 207)
    assert want[-1] == ("PROPFIND after DELETE", 207, [cal])


def saved_hrefs(server: Server, user: str, uids: list[str]) -> list[tuple[str, str]]:
    """python-caldav ``save_event`` of each UID; (decoded href path, UID read back)."""
    with DAVClient(
        url=server.url + "/",
        username=user,
        password=server.gateway.users[user],
        ssl_verify_cert=str(server.gateway.ca),
        timeout=30,
    ) as client:
        calendar = client.principal().make_calendar(name=f"uids-{uuid.uuid4().hex[:8]}")
        for uid in uids:
            calendar.save_event(CALENDAR.format(uid=uid))
        listed = []
        for event in calendar.events():
            event.load()
            path = unquote(urlsplit(str(event.url)).path)
            listed.append((path.rsplit("/", 1)[1], str(event.icalendar_component["uid"])))
        return sorted(listed)


@pytest.mark.slow
@pytest.mark.parametrize("user", ["alice", "jürgen"])
def test_caldav_save_event_uids_like_radicale(servers: tuple[Server, Server], user: str) -> None:
    gateway, direct = servers
    uids = ["café-1@x", "smile-😀@x", "plain-1@x"]
    got, want = saved_hrefs(gateway, user, uids), saved_hrefs(direct, user, uids)
    assert got == want
    assert [uid for _, uid in want] == sorted(uids)
    assert all(Path(href).suffix == ".ics" for href, _ in want)


@pytest.mark.slow
def test_the_process_environment_does_not_leak_into_radicale(tmp_path: Path) -> None:
    # a2wsgi takes SCRIPT_NAME from os.environ (a unit file or a CGI-ish wrapper may set
    # it); Radicale's own server never does, and Radicale would prefix every href with it.
    with (
        running_gateway(tmp_path, users=("alice",), env={"SCRIPT_NAME": "/elsewhere"}) as gw,
        httpx.Client(
            base_url=gw.url,
            auth=("alice", gw.users["alice"]),
            verify=gw.ssl_context(),
            timeout=30,
        ) as c,
    ):
        r = c.request("PROPFIND", "/alice/", headers={"Depth": "0"}, content=PROPFIND)
        assert r.status_code == 207
        assert hrefs(r.text) == ["/alice/"]
        r = c.request("PROPFIND", "/alice/.well-known/caldav", headers={"Depth": "0"})
        assert "elsewhere" not in r.headers.get("location", ""), r.headers
