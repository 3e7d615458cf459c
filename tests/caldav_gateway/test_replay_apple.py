"""Replays of what Apple's calendar clients send, against the real gateway over TLS.

Each row is one client as seen in public server logs and issue threads
(``/work/shared/apple-clients.md`` summarises them): its User-Agent, its probe paths in
order, its headers (``Depth``, ``Brief: t``, ``Prefer: return=minimal``). The replay
behaves like the device: every request goes out without credentials until a 401 asks
for them, then it retries with credentials and keeps sending them. Afterwards it walks
discovery (``current-user-principal`` → ``calendar-home-set`` → calendars) with Apple's
own property lists.

What must hold for every client: no probe path ever answers 401 (each one would be a
password prompt on the device), probe paths answer 404, the only 401s are the anonymous
challenges on ``/`` and on the user's own principal, and discovery lists the calendars.
"""

from __future__ import annotations

import ssl
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from caldav_gateway.doctor.dav import CALDAV, DAV, parse_multistatus
from edgeward import pki
from tests.support.gateway import Gateway, direct_radicale, write_htpasswd

CS = "http://calendarserver.org/ns/"
ICAL = "http://apple.com/ns/ical/"
USER = "alice"


def _body(props: Sequence[tuple[str, str]]) -> bytes:
    prefix = {DAV: "A", CALDAV: "B", CS: "C", ICAL: "D"}
    inner = "".join(f"<{prefix[ns]}:{name}/>" for ns, name in props)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<A:propfind xmlns:A="{DAV}" xmlns:B="{CALDAV}" xmlns:C="{CS}" xmlns:D="{ICAL}">'
        f"<A:prop>{inner}</A:prop></A:propfind>"
    ).encode()


# The property lists Apple's daemons ask for at each step (trimmed to the usual ones).
ROOT_PROPS = [(DAV, "current-user-principal"), (DAV, "principal-URL"), (DAV, "resourcetype")]
PRINCIPAL_PROPS = [
    (CALDAV, "calendar-home-set"),
    (CALDAV, "calendar-user-address-set"),
    (DAV, "current-user-principal"),
    (DAV, "displayname"),
    (CS, "email-address-set"),
    (DAV, "principal-URL"),
    (DAV, "supported-report-set"),
    (CS, "notification-URL"),
]
HOME_PROPS = [
    (DAV, "resourcetype"),
    (DAV, "displayname"),
    (CS, "getctag"),
    (DAV, "sync-token"),
    (ICAL, "calendar-color"),
    (ICAL, "calendar-order"),
    (CALDAV, "supported-calendar-component-set"),
    (DAV, "current-user-privilege-set"),
]


@dataclass(frozen=True)
class Step:
    method: str
    path: str  # ``{user}`` and ``{email}`` are filled in
    depth: str | None = "0"
    brief: bool = False  # ``Brief: t`` + ``Prefer: return=minimal`` (iOS 18)


@dataclass(frozen=True)
class AppleClient:
    name: str
    user_agent: str
    probes: tuple[Step, ...]


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    with_credentials: bool


@dataclass
class Device:
    """What the device does with 401s: retry with credentials, then keep sending them."""

    http: httpx.Client
    user_agent: str
    auth: httpx.BasicAuth
    authenticated: bool = False
    log: list[Exchange] = field(default_factory=list)

    def send(
        self, step: Step, body: bytes | None = None, *, fresh: bool = False, creds: bool = False
    ) -> httpx.Response:
        """``fresh``: anonymous first even after a login (each daemon, each new path in the
        logs starts anonymous); ``creds``: with credentials at once."""
        headers = {"User-Agent": self.user_agent}
        if step.depth is not None:
            headers["Depth"] = step.depth
        if step.brief:
            headers |= {"Brief": "t", "Prefer": "return=minimal"}
        if body is not None:
            headers["Content-Type"] = "text/xml"
        elif step.method == "PROPFIND":
            body = _body(ROOT_PROPS)
            headers["Content-Type"] = "text/xml"
        for attempt in range(2):
            with_auth = creds or attempt == 1 or (self.authenticated and not fresh)
            r = self.http.request(
                step.method,
                step.path,
                content=body,
                headers=headers,
                auth=self.auth if with_auth else httpx.USE_CLIENT_DEFAULT,
            )
            self.log.append(Exchange(step.method, step.path, r.status_code, with_auth))
            if r.status_code != 401 or with_auth:
                if with_auth and r.status_code < 400:
                    self.authenticated = True
                return r
        raise AssertionError("unreachable")


def steps(*paths: str, method: str = "PROPFIND", depth: str | None = "0") -> tuple[Step, ...]:
    return tuple(Step(method, p, depth) for p in paths)


CLIENTS = [
    AppleClient(
        "iOS 9 accountsd",
        "iOS/9.3.5 (13G36) accountsd/1.0",
        steps("/.well-known/caldav", "/", "/principals/", "/calendar/dav/{email}/user/"),
    ),
    AppleClient(
        "iOS 9 dataaccessd, typed path /caldav",
        "iOS/9.3.5 (13G36) dataaccessd/1.0",
        # iOS 9 probes relative to the path the user typed.
        steps(
            "/caldav/.well-known/caldav",
            "/caldav/",
            "/caldav/principals/",
            "/caldav/calendar/dav/{email}/user/",
            "/.well-known/caldav",
            "/",
        ),
    ),
    AppleClient(
        "iOS 10.3.3 dataaccessd",
        "iOS/10.3.3 (14G60) dataaccessd/1.0",
        steps("/", "/principals/", "/calendar/dav/{user}/user/"),
    ),
    AppleClient(
        "iOS 17 remindd",
        "iOS/17.6.1 (21G93) remindd/1.0",
        steps("/.well-known/caldav", "/principals/", "/dav/principals/", "/caldav/v2", "/"),
    ),
    AppleClient(
        "iOS 18.1.1 dataaccessd",
        "iOS/18.1.1 (22B91) dataaccessd/1.0",
        (
            Step("PROPFIND", "/.well-known/caldav", "0", brief=True),
            Step("PROPFIND", "/principals/users/{user}/", "0", brief=True),
            Step("PROPFIND", "/{user}/", "0", brief=True),
            Step("OPTIONS", "/{user}/", None),
        ),
    ),
    AppleClient(
        "OS X 10.10 CalendarAgent",
        "Mac OS X/10.10.5 (14F27) CalendarAgent/316.1",
        steps(
            "/.well-known/caldav",
            "/principals/",
            "/principals/",
            "/",
            "/principals/",
            "/dav/principals",
        ),
    ),
    AppleClient(
        "macOS 14 CalendarAgent",
        "macOS/14.6.1 (23G93) CalendarAgent/1220.1",
        (
            *steps("/.well-known/caldav", "/", "/principals/__uids__/{user}/"),
            Step("GET", "/favicon.ico", None),
            *steps("/remote.php/dav/principals/users/{user}/", "/.well-known/carddav"),
        ),
    ),
    AppleClient(
        "macOS 15.4.1 accountsd",
        "macOS/15.4.1 (24E263) accountsd/113",
        steps(
            "/{user}/",  # the path the user typed: a real principal, so 401 is expected
            "/.well-known/caldav",
            "/dav.php",
            "/",
            "/principals/",
            "/calendar/dav/{user}/user/",
        ),
    ),
]


def _fill(path: str) -> str:
    return path.format(user=USER, email=urllib.parse.quote(f"{USER}@example.org", safe="@"))


def _may_challenge(path: str) -> bool:
    """RFC 6764: discovery on / and the user's own collections must require credentials."""
    return path == "/" or path.startswith(f"/{USER}/")


def _is_well_known(path: str) -> bool:
    return path.rstrip("/") in ("/.well-known/caldav", "/.well-known/carddav")


def _is_probe(path: str) -> bool:
    return not _may_challenge(path) and not _is_well_known(path)


def discover(device: Device, start: str) -> list[str]:
    """Apple's discovery walk; returns the calendars' display names."""
    r = device.send(Step("PROPFIND", start, "0"), _body(ROOT_PROPS))
    assert r.status_code == 207, (start, r.status_code)
    [root] = parse_multistatus(r.content)
    principal = root.href_of(DAV, "current-user-principal")
    assert principal == f"/{USER}/"
    r = device.send(Step("PROPFIND", principal, "0"), _body(PRINCIPAL_PROPS))
    assert r.status_code == 207
    home = parse_multistatus(r.content)[0].href_of(CALDAV, "calendar-home-set")
    assert home == f"/{USER}/"
    r = device.send(Step("OPTIONS", principal, None))
    assert "calendar-access" in r.headers.get("dav", "") and r.headers.get("allow")
    r = device.send(Step("PROPFIND", home, "1"), _body(HOME_PROPS))
    assert r.status_code == 207
    return [
        res.text_of(DAV, "displayname") or res.href
        for res in parse_multistatus(r.content)
        if f"{{{CALDAV}}}calendar" in res.resource_types()
    ]


def probe_404s(metrics_url: str) -> dict[str, float]:
    """``edgeward_caldav_probe_not_found_total`` summed per client family."""
    text = httpx.get(metrics_url, timeout=10).text
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for sample in fam.samples:
            if sample.name == "edgeward_caldav_probe_not_found_total":
                key = sample.labels["client"]
                out[key] = out.get(key, 0) + sample.value
    return out


def replay_probes(
    device: Device, client: AppleClient, *, creds: bool = False
) -> list[tuple[Step, httpx.Response]]:
    out = []
    for step in client.probes:
        step = Step(step.method, _fill(step.path), step.depth, step.brief)
        out.append((step, device.send(step, fresh=True, creds=creds)))
    return out


@pytest.fixture(scope="module")
def with_calendars(gateway: Gateway) -> Gateway:
    """Alice has two calendars, made the way a client makes them (MKCALENDAR)."""
    auth = (USER, gateway.users[USER])
    verify = ssl.create_default_context(cafile=gateway.ca)
    with httpx.Client(base_url=gateway.url, verify=verify, auth=auth) as http:
        for slug, name in (("work", "Work"), ("home", "Home")):
            body = (
                f'<C:mkcalendar xmlns:D="DAV:" xmlns:C="{CALDAV}"><D:set><D:prop>'
                f"<D:displayname>{name}</D:displayname></D:prop></D:set></C:mkcalendar>"
            )
            r = http.request("MKCALENDAR", f"/{USER}/{slug}/", content=body)
            assert r.status_code == 201, r.text
    return gateway


@pytest.mark.parametrize("client", CLIENTS, ids=[c.name for c in CLIENTS])
def test_apple_client_never_gets_a_401_on_a_probe(
    with_calendars: Gateway, client: AppleClient
) -> None:
    url, password = with_calendars.url, with_calendars.users[USER]
    verify = ssl.create_default_context(cafile=with_calendars.ca)
    counted_before = probe_404s(with_calendars.metrics_url)
    with httpx.Client(base_url=url, verify=verify, timeout=10, follow_redirects=False) as http:
        device = Device(http, client.user_agent, httpx.BasicAuth(USER, password))
        start = "/"
        for step, r in replay_probes(device, client):
            if _is_well_known(step.path):
                assert r.status_code == 301 and r.headers["location"] in ("/", f"{url}/")
                assert r.headers.get("cache-control") == "no-cache"
                start = urllib.parse.urlsplit(r.headers["location"]).path or "/"
        before_discovery = len(device.log)
        calendars = discover(device, start)
        # The gateway's 404 holds whatever the credentials: replay the probes logged in.
        replay_probes(device, client, creds=True)

    probe_401 = [e for e in device.log if _is_probe(e.path) and e.status == 401]
    assert probe_401 == [], f"{client.name} would re-prompt: {probe_401}"
    assert all(e.status == 404 for e in device.log if _is_probe(e.path)), device.log
    # The only challenges are anonymous ones on / or the user's own principal...
    challenged = [e for e in device.log if e.status == 401]
    assert all(_may_challenge(e.path) and not e.with_credentials for e in challenged), challenged
    # ...and discovery meets at most one: then the device keeps sending its credentials.
    assert sum(e.status == 401 for e in device.log[before_discovery:]) <= 1
    assert "Work" in calendars and "Home" in calendars
    # The gateway's metrics saw these probes, attributed to the right client family.
    family = "ios" if client.name.startswith("iOS") else "macos"
    counted = probe_404s(with_calendars.metrics_url)
    delta = {k: counted.get(k, 0) - counted_before.get(k, 0) for k in counted}
    expected = sum(e.status == 404 for e in device.log)
    assert {k: v for k, v in delta.items() if v} == {family: expected}


@pytest.mark.parametrize("client", [CLIENTS[0], CLIENTS[-1]], ids=lambda c: c.name)
def test_the_replay_catches_radicale_served_directly(tmp_path: Path, client: AppleClient) -> None:
    """Control: the same replays against Radicale without the gateway do see probe 401s."""
    ca = pki.make_ca()
    pki.write_pair(pki.issue(ca), tmp_path / "key.pem", tmp_path / "cert.pem")
    write_htpasswd(tmp_path / "users", {USER: "pw-of-alice"})
    with direct_radicale(
        tmp_path, tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "users"
    ) as port:
        verify = ssl.create_default_context(cadata=ca.cert_pem().decode())
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=verify, timeout=10) as http:
            device = Device(http, client.user_agent, httpx.BasicAuth(USER, "pw-of-alice"))
            replay_probes(device, client)
    probe_401 = [e for e in device.log if _is_probe(e.path) and e.status == 401]
    assert len(probe_401) >= 2, device.log
