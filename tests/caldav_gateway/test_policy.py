"""The probe policy, table-driven against the real gateway over TLS.

Each raw request target (sent byte for byte with ``http.client``: no client-side
normalisation) × every method × every credential state. The expectation is the class of
the path as Radicale would act on it: redirect, policy 404, Radicale (``/`` or a real
principal) or another user's path.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from caldav_gateway.policy import ProbePolicy
from caldav_gateway.principals import StaticPrincipals
from tests.support.gateway import Gateway, running_gateway

NO_THROTTLE = "[throttle]\nbase_delay = 0.0\nmax_delay = 0.0\nlimit = 1000000\n"
POLICY_404_BODY = b"Not Found\n"

METHODS = (
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "OPTIONS",
    "PROPFIND",
    "PROPPATCH",
    "REPORT",
    "MKCOL",
    "MKCALENDAR",
    "MOVE",
    "COPY",
    "FOO",
)
# Methods that change data: never sent with alice's valid credentials to her own paths.
WRITES = frozenset({"POST", "PUT", "DELETE", "PROPPATCH", "MKCOL", "MKCALENDAR", "MOVE", "COPY"})
CREDENTIALS = ("none", "alice", "alice-wrong", "stranger")

REDIRECT = [
    "/.well-known/caldav",
    "/.well-known/caldav/",
    "/.well-known/carddav",
    "/.well-known/carddav/",
    "//.well-known//caldav",
    "/.well-known/%63aldav",
    "/%2Ewell-known/caldav",
    "/%2ewell-known/carddav/",
    "/x/../.well-known/caldav",
    "/.well-known/./caldav",
    "/.well-known/caldav?x=1",
]
ROOT = ["/", "//", "/./", "/principals/..", "/principals/../", "/%2e%2e/", "/?query=1", "/.."]
ALICE = [
    "/alice/",
    "/alice",
    "/%61lice/",
    "/%61%6C%69%63%65/",
    "/principals/../alice/",
    "/principals%2F..%2Falice/",
    "//alice//",
    "/./alice/",
    "/alice/calendar/",
    "/alice/calendar/event.ics",
    "/alice/%2e%2e/alice/",
    "/dav/../alice/",
    "/caldav/v2/../../alice/",
]
BOB = ["/bob/", "/%62ob/", "/alice/../bob/", "/bob/calendar/"]
NOT_FOUND = [
    "/principals/",
    "/principals",
    "/principals/users/alice/",
    "/principals/__uids__/10000000-0000-0000-0000-000000000001/",
    "/dav/principals/",
    "/dav/",
    "/dav",
    "/caldav/v2",
    "/caldav/v2/alice@example.org/events",
    "/calendar/dav/alice@example.org/user/",
    "/calendars/alice/",
    "/dav.php",
    "/dav.php/principals/alice",
    "/remote.php/dav/",
    "/remote.php/dav/principals/users/alice/",
    "/favicon.ico",
    "/apple-touch-icon.png",
    "/robots.txt",
    "/.well-known",
    "/.well-known/",
    "/.well-known/webdav",
    "/.well-known/caldav/x",
    "/.web",
    "/.web/",
    "/.token",
    "/.mobileconfig",
    "/Alice/",
    "/ALICE",
    "/alice@example.org/",
    "/alice;x/",
    "/alice%2F../principals/",
    "/alice/../principals/",
    "/alice/../../principals/",
    "/../principals/",
    "/%2e%2e/principals/",
    "/%70rincipals/",
    "/PRINCIPALS/",
    "/carol/",
    "/root/",
    "/%00/",
    "/index.html",
    "/principals/.well-known/caldav",
]

CASES = (
    [(p, "redirect") for p in REDIRECT]
    + [(p, "root") for p in ROOT]
    + [(p, "alice") for p in ALICE]
    + [(p, "bob") for p in BOB]
    + [(p, "not-found") for p in NOT_FOUND]
)


class Client:
    """One keep-alive TLS connection that sends request targets exactly as given."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.conn = self._connect()

    def _connect(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            self.gateway.host, self.gateway.port, context=self.gateway.ssl_context(), timeout=20
        )

    def send(self, method: str, target: str, credentials: str) -> tuple[int, dict[str, str], bytes]:
        headers = {"User-Agent": "iOS/18.1.1 (22B91) dataaccessd/1.0", "Depth": "0"}
        users = self.gateway.users
        login = {
            "alice": f"alice:{users['alice']}",
            "alice-wrong": "alice:not-her-password",
            "stranger": "mallory:guess",
        }.get(credentials)
        if login:
            headers["Authorization"] = "Basic " + base64.b64encode(login.encode()).decode()
        for attempt in range(2):
            try:
                self.conn.request(method, target, headers=headers)
                r = self.conn.getresponse()
                body = r.read()
                return r.status, {k.lower(): v for k, v in r.getheaders()}, body
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = self._connect()
                if attempt:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def policy_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("policy")
    config = tmp / "gateway.toml"
    config.write_text(NO_THROTTLE)
    with running_gateway(tmp / "gw", ["--config", str(config)]) as gw:
        yield gw


@pytest.fixture(scope="module")
def client(policy_gateway: Gateway) -> Iterator[Client]:
    c = Client(policy_gateway)
    yield c
    c.conn.close()


@pytest.mark.slow
@pytest.mark.parametrize(("target", "kind"), CASES)
def test_policy_table(client: Client, target: str, kind: str) -> None:
    for method in METHODS:
        for credentials in CREDENTIALS:
            if credentials == "alice" and method in WRITES and kind in ("alice", "root"):
                continue  # would change alice's data; reads prove the routing
            status, headers, body = client.send(method, target, credentials)
            what = f"{method} {target} ({credentials}) → {status}"
            reached_radicale = not (status == 404 and body == POLICY_404_BODY)
            if kind == "redirect":
                assert status == 301, what
                assert headers["location"] == "/", what
                assert headers["cache-control"] == "no-cache", what
                assert "www-authenticate" not in headers, what
            elif kind == "not-found":
                assert status == 404, what
                assert "www-authenticate" not in headers, what
                assert body == (b"" if method == "HEAD" else POLICY_404_BODY), what
            elif kind == "root" and method in ("GET", "HEAD"):
                # a browser on the bare address (/.web off): a short page, never a
                # redirect to /.web's 404 and never a password prompt
                assert status == 200, what
                assert "www-authenticate" not in headers and "location" not in headers, what
                assert headers["content-type"] == "text/plain; charset=utf-8", what
                assert (body == b"") if method == "HEAD" else (b"CalDAV" in body), what
            else:
                assert reached_radicale, what
                if credentials in ("alice-wrong", "stranger"):
                    assert status in (401, 405), what  # Radicale checked the password
                elif credentials == "none" and method == "PROPFIND":
                    assert status == 401, what  # discovery's required challenge
                    assert headers["www-authenticate"].startswith("Basic realm="), what
                elif credentials == "alice" and kind in ("alice", "root"):
                    assert status not in (401, 429), what
                    if method in ("PROPFIND", "REPORT"):
                        assert status in (207, 404), what  # 404: Radicale's, no such item
                elif credentials == "alice" and kind == "bob":
                    # no user reads (or writes) another user's collection
                    assert status in ((200,) if method == "OPTIONS" else (403, 405)), what


def test_no_user_reads_another_users_calendar(policy_gateway: Gateway) -> None:
    client = Client(policy_gateway)
    event = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n"
        "UID:secret@test\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T090000Z\r\n"
        "SUMMARY:private\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert client.send("MKCALENDAR", "/alice/private/", "alice")[0] == 201
    auth = "Basic " + base64.b64encode(f"alice:{policy_gateway.users['alice']}".encode()).decode()
    client.conn.request(
        "PUT",
        "/alice/private/secret.ics",
        body=event.encode(),
        headers={"Authorization": auth, "Content-Type": "text/calendar"},
    )
    r = client.conn.getresponse()
    r.read()
    assert r.status == 201
    bob = "Basic " + base64.b64encode(f"bob:{policy_gateway.users['bob']}".encode()).decode()
    for method, target in [
        ("GET", "/alice/private/secret.ics"),
        ("PROPFIND", "/alice/private/"),
        ("REPORT", "/alice/private/"),
        ("PROPFIND", "/alice/"),
        ("GET", "/%61lice/private/secret.ics"),
        ("GET", "/bob/../alice/private/secret.ics"),
        ("DELETE", "/alice/private/secret.ics"),
    ]:
        client.conn.request(method, target, headers={"Authorization": bob, "Depth": "1"})
        r = client.conn.getresponse()
        body = r.read()
        assert r.status == 403, f"{method} {target} as bob → {r.status}"
        assert b"private" not in body
    assert client.send("GET", "/alice/private/secret.ics", "alice")[0] == 200


# In-process properties of the decision itself (no server needed).

SEGMENTS = st.sampled_from(
    ["", ".", "..", "alice", "bob", "principals", "dav", ".well-known", "caldav", "x", ".web"]
)


@given(st.lists(SEGMENTS, max_size=8), st.booleans())
def test_decision_is_taken_on_the_path_radicale_uses(parts: list[str], slash: bool) -> None:
    from caldav_gateway.paths import normalise

    path = "/" + "/".join(parts) + ("/" if slash else "")
    policy = ProbePolicy(_unused_app, principals=StaticPrincipals(["alice", "bob"]))
    decision = policy.decide(path)
    assert decision == policy.decide(normalise(path))
    first = normalise(path).lstrip("/").split("/")[0]
    if decision == "radicale":
        assert first in ("", "alice", "bob")
    elif first in ("alice", "bob", ""):
        assert decision in ("radicale", "redirect")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # scope["path"] is uvicorn's UTF-8 decoding, the same text Radicale's server passes.
        ("/jürgen/", "radicale"),
        ("/jürgen/cal-é/event😀.ics", "radicale"),
        ("/zoë😀/", "radicale"),
        ("/j\u00c3\u00bcrgen/", "not-found"),  # the latin-1 spelling is another name
        ("/ju\u0308rgen/", "not-found"),  # NFD: Radicale does not normalise either
        ("/J\u00dcRGEN/", "not-found"),
    ],
)
def test_non_ascii_principals(path: str, expected: str) -> None:
    policy = ProbePolicy(_unused_app, principals=StaticPrincipals(["jürgen", "zoë😀"]))
    assert policy.decide(path) == expected


@pytest.mark.parametrize(
    ("mode", "web", "path", "expected"),
    [
        ("principals", False, "/carol/", "not-found"),
        ("denylist", False, "/carol/", "radicale"),
        ("denylist", False, "/principals/", "not-found"),
        ("denylist", False, "/Principals/x", "not-found"),
        ("denylist", False, "/dav.php/x", "not-found"),
        ("denylist", False, "/.web/", "not-found"),
        ("denylist", True, "/.web/", "web"),
        ("principals", True, "/.web", "web"),
        ("principals", True, "/.webx", "not-found"),
        ("denylist", False, "/.well-known/caldav/", "redirect"),
        ("denylist", False, "/.well-known/openid-configuration", "not-found"),
    ],
)
def test_modes(mode: str, web: bool, path: str, expected: str) -> None:
    policy = ProbePolicy(
        _unused_app,
        principals=StaticPrincipals(["alice"]),
        mode=mode,  # type: ignore[arg-type]
        web=web,
    )
    assert policy.decide(path) == expected


@pytest.mark.parametrize(
    ("web", "method", "path", "expected"),
    [
        (False, "GET", "/", "root-page"),
        (False, "HEAD", "//", "root-page"),
        (False, "PROPFIND", "/", "radicale"),  # RFC 6764: discovery keeps its 401
        (False, "OPTIONS", "/", "radicale"),
        (False, "GET", "/alice/", "radicale"),
        (True, "GET", "/", "radicale"),  # Radicale's redirect to /.web, which is served
    ],
)
def test_the_bare_address_in_a_browser(web: bool, method: str, path: str, expected: str) -> None:
    policy = ProbePolicy(_unused_app, principals=StaticPrincipals(["alice"]), web=web)
    assert policy.decide(path, method) == expected


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="principals"):
        ProbePolicy(_unused_app, principals=StaticPrincipals([]), mode="allow")  # type: ignore[arg-type]


async def _unused_app(scope: object, receive: object, send: object) -> None:
    raise AssertionError("not called")


@pytest.mark.slow
def test_denylist_mode_and_web_interface_on_the_real_server(tmp_path: Path) -> None:
    with (
        running_gateway(tmp_path, ["--policy", "denylist", "--web"]) as gw,
        httpx.Client(base_url=gw.url, verify=gw.ssl_context(), timeout=10) as c,
    ):
        # denylist: unknown users reach Radicale (usernames hidden), probes still 404
        assert c.request("PROPFIND", "/carol/").status_code == 401
        assert c.request("PROPFIND", "/principals/").status_code == 404
        assert c.request("PROPFIND", "/remote.php/dav/").status_code == 404
        # the web interface: the bare address leads there (Radicale's redirect) ...
        r = c.get("/")
        assert r.is_redirect and r.headers["location"] == "/.web", r.headers
        # ... served, and never 401 whatever the credentials
        for auth in (None, ("alice", "wrong"), ("alice", gw.users["alice"])):
            r = c.get("/.web/", auth=auth)
            assert r.status_code == 200, auth
            assert "www-authenticate" not in r.headers
            assert "<html" in r.text.lower()
            assert c.get("/.web/nope.js", auth=auth).status_code == 404


def test_unread_request_bodies_do_not_break_keep_alive(client: Client) -> None:
    conn = client.conn
    body = b"x" * 200_000
    conn.request("PUT", "/dav/upload.ics", body=body, headers={"Content-Type": "text/calendar"})
    r = conn.getresponse()
    assert (r.status, r.read()) == (404, POLICY_404_BODY)
    conn.request("PROPFIND", "/principals/")
    r = conn.getresponse()
    assert (r.status, r.read()) == (404, POLICY_404_BODY)


@pytest.mark.parametrize(
    ("target", "spoofed", "expected"),
    [
        # With X-Forwarded-* Radicale would strip the X-Script-Name prefix and act on /bob/.
        ("/alice/bob/", {"X-Script-Name": "/alice", "X-Forwarded-For": "203.0.113.9"}, 404),
        ("/alice/bob/", {"X-Script-Name": "/alice", "X-Forwarded-Host": "evil"}, 404),
        ("/alice/", {"X-Remote-User": "bob", "X-Forwarded-For": "203.0.113.9"}, 207),
        # Underscores: the WSGI bridge maps X_Script_Name to HTTP_X_SCRIPT_NAME as well.
        ("/alice/bob/", {"X_Script_Name": "/alice", "X_Forwarded_For": "203.0.113.9"}, 404),
        ("/alice/bob/", {"X_Script_Name": "/alice", "X_Forwarded_Host": "evil"}, 404),
        ("/alice/bob/", {"x-script_name": "/alice", "X-Forwarded_Proto": "https"}, 404),
        ("/alice/", {"X_Remote_User": "bob", "X_Forwarded_For": "203.0.113.9"}, 207),
    ],
)
def test_proxy_headers_from_clients_do_not_move_the_path(
    policy_gateway: Gateway, target: str, spoofed: dict[str, str], expected: int
) -> None:
    with httpx.Client(verify=policy_gateway.ssl_context(), timeout=10) as c:
        r = c.request(
            "PROPFIND",
            policy_gateway.url + target,
            auth=("alice", policy_gateway.users["alice"]),
            headers={"Depth": "0", **spoofed},
        )
    assert r.status_code == expected
    assert r.content != POLICY_404_BODY  # Radicale's answer, on the path the policy judged
    if expected == 207:
        assert "/alice/" in r.text and "/bob/" not in r.text


@pytest.mark.parametrize(
    "spoofed",
    [
        {"X-Script-Name": "//evil.example"},
        {"X_Script_Name": "//evil.example"},
        {"X_Script_Name": "//evil.example", "X_Forwarded_Host": "evil.example"},
        {"x_script-name": "//evil.example", "Forwarded": "host=evil.example"},
    ],
)
def test_a_client_cannot_choose_the_redirect_prefix(
    policy_gateway: Gateway, spoofed: dict[str, str]
) -> None:
    # /alice/.well-known/caldav is alice's path (the policy passes it on); Radicale answers
    # it with a redirect to its base prefix, which X-Script-Name would set.
    with httpx.Client(verify=policy_gateway.ssl_context(), timeout=10) as c:
        r = c.request(
            "PROPFIND",
            policy_gateway.url + "/alice/.well-known/caldav",
            auth=("alice", policy_gateway.users["alice"]),
            headers={"Depth": "0", **spoofed},
        )
    assert "evil" not in r.headers.get("location", "")
    assert r.status_code in (301, 404, 207), r.status_code


@pytest.mark.parametrize(
    ("header", "dropped"),
    [
        (b"x-script-name", True),
        (b"X_Script_Name", True),
        (b"X-SCRIPT_NAME", True),
        (b"x_forwarded_host", True),
        (b"X_Remote_User", True),
        (b"forwarded", True),
        (b"x-scriptname", False),
        (b"x_request_id", False),
        (b"user-agent", False),
    ],
)
def test_proxy_headers_compared_like_wsgi_names(header: bytes, dropped: bool) -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["headers"])

    policy = ProbePolicy(app, principals=StaticPrincipals(["alice"]))
    scope = {"type": "http", "method": "GET", "path": "/alice/", "headers": [(header, b"v")]}
    asyncio.run(policy(scope, _no_receive, _no_send))
    assert seen == [[] if dropped else [(header, b"v")]]


async def _no_receive() -> Message:
    raise AssertionError("not read")


async def _no_send(message: Message) -> None:
    raise AssertionError("nothing sent")


@pytest.mark.parametrize(("target", "status"), [("/principals/", 404), ("/", 401)])
def test_websocket_upgrades_are_plain_http(
    policy_gateway: Gateway, target: str, status: int
) -> None:
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    r = httpx.request(
        "PROPFIND",
        policy_gateway.url + target,
        headers=upgrade,
        verify=policy_gateway.ssl_context(),
    )
    assert r.status_code == status  # not 101, not a crash in the WSGI bridge
