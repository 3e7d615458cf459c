"""vdirsyncer (a real two-way sync client) against the gateway over TLS.

vdirsyncer comes from PyPI into its own cached virtual environment
(:func:`tests.support.thirdparty.venv`): its dependencies (aiohttp, click-log) have
nothing to do with ours and must not pin them. A local folder of ``.ics`` files and
alice's calendar behind the gateway are synced: creations, changes and deletions on both
sides, non-ASCII UIDs, then a conflict that vdirsyncer must report, then resolve.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.support import thirdparty
from tests.support.gateway import Gateway, running_gateway

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

VDIRSYNCER = "vdirsyncer==0.21.0"
EVENTS_PER_SIDE = 25
CALENDAR = "/alice/sync/"
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//edgeward//test//EN\r\nBEGIN:VEVENT\r\n"
    "UID:{uid}\r\nDTSTAMP:20261101T090000Z\r\nDTSTART:20261201T090000Z\r\n"
    "DTEND:20261201T100000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
REPORT = (
    '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
    'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop>'
    '<C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>'
)
_UID = re.compile(r"^UID:(.*?)\r?$", re.M)
_SUMMARY = re.compile(r"^SUMMARY:(.*?)\r?$", re.M)


def summaries(texts: list[str]) -> dict[str, str]:
    """UID → SUMMARY of the events in ``texts`` (calendar objects)."""
    out = {}
    for text in texts:
        uid, summary = _UID.search(text), _SUMMARY.search(text)
        assert uid and summary, text
        out[uid.group(1)] = summary.group(1)
    return out


class Sync:
    def __init__(self, gateway: Gateway, tmp: Path) -> None:
        self.gateway = gateway
        self.tmp = tmp
        self.local = tmp / "local"
        self.local.mkdir()
        self.exe = thirdparty.venv("vdirsyncer", (VDIRSYNCER,)).with_name("vdirsyncer")
        password = tmp / "password"
        password.write_text(gateway.users["alice"])
        password.chmod(0o600)
        self.config = tmp / "config"
        self.http = httpx.Client(
            base_url=gateway.url,
            auth=("alice", gateway.users["alice"]),
            verify=gateway.ssl_context(),
            timeout=30,
        )
        self.write_config("null", password)

    def write_config(self, resolution: str, password: Path | None = None) -> None:
        password = password or self.tmp / "password"
        self.config.write_text(
            f"""[general]
status_path = "{self.tmp / "status"}/"

[pair cal]
a = "local"
b = "remote"
collections = null
conflict_resolution = {resolution}

[storage local]
type = "filesystem"
path = "{self.local}/"
fileext = ".ics"

[storage remote]
type = "caldav"
url = "{self.gateway.url}{CALENDAR}"
username = "alice"
password.fetch = ["command", "cat", "{password}"]
verify = "{self.gateway.ca}"
"""
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.exe), "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=300,
            input="",
        )

    def sync(self) -> None:
        done = self.run("sync")
        assert done.returncode == 0, done.stderr[-3000:]

    # --- the two sides ------------------------------------------------------------------

    def local_events(self) -> dict[str, str]:
        return summaries([p.read_text() for p in sorted(self.local.glob("*.ics"))])

    def local_file(self, uid: str) -> Path:
        for path in self.local.glob("*.ics"):
            if uid in _UID.findall(path.read_text()):
                return path
        raise AssertionError(f"{uid} not in {self.local}")

    def remote_texts(self) -> dict[str, str]:
        """href → calendar data of alice's calendar, through the gateway."""
        r = self.http.request("REPORT", CALENDAR, headers={"Depth": "1"}, content=REPORT)
        assert r.status_code == 207, r.text
        hrefs = re.findall(r"<(?:\w+:)?href>([^<]*)</", r.text)
        return {h: self.http.get(h).text for h in hrefs}

    def remote_events(self) -> dict[str, str]:
        return summaries(list(self.remote_texts().values()))

    def remote_href(self, uid: str) -> str:
        for href, text in self.remote_texts().items():
            if uid in _UID.findall(text):
                return href
        raise AssertionError(f"{uid} not on the server")

    def put_remote(self, href: str, uid: str, summary: str) -> None:
        r = self.http.put(
            href,
            content=EVENT.format(uid=uid, summary=summary).encode(),
            headers={"Content-Type": "text/calendar; charset=utf-8"},
        )
        assert r.status_code in (201, 204), r.text


def uid(side: str, n: int) -> str:
    # Every fifth UID is non-ASCII: hrefs derived from it must survive the gateway.
    return f"{side}-{n}-{'café😀' if n % 5 == 0 else 'x'}@edgeward.test"


def remote_href(n: int) -> str:
    # vdirsyncer names what it uploads after safe UIDs only: non-ASCII hrefs on the server
    # side make it list, fetch, change and delete them through the gateway.
    return f"{CALENDAR}r{n}{quote('-café😀') if n % 5 == 0 else ''}.ics"


def test_two_way_sync_with_changes_deletions_and_a_conflict(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tmp = tmp_path_factory.mktemp("vdirsyncer")
    with running_gateway(tmp / "gateway", users=("alice",)) as gw:
        s = Sync(gw, tmp)
        assert s.http.request("MKCALENDAR", CALENDAR).status_code == 201
        for n in range(EVENTS_PER_SIDE):
            (s.local / f"l{n}.ics").write_text(EVENT.format(uid=uid("l", n), summary=f"L{n}"))
            s.put_remote(remote_href(n), uid("r", n), f"R{n}")

        # 1. first sync: each side gets the other's events
        start = time.monotonic()
        discovered = s.run("discover", "cal")
        assert discovered.returncode == 0, discovered.stderr[-3000:]
        s.sync()
        first = time.monotonic() - start
        expected = {uid("l", n): f"L{n}" for n in range(EVENTS_PER_SIDE)}
        expected |= {uid("r", n): f"R{n}" for n in range(EVENTS_PER_SIDE)}
        assert s.local_events() == expected
        assert s.remote_events() == expected
        print(f"vdirsyncer: {2 * EVENTS_PER_SIDE} events synced both ways in {first:.1f} s")

        # 2. changes and deletions on both sides
        changed_local, changed_remote = uid("r", 5), uid("l", 10)
        s.local_file(changed_local).write_text(EVENT.format(uid=changed_local, summary="local ✎"))
        s.put_remote(s.remote_href(changed_remote), changed_remote, "remote ✎")
        s.local_file(uid("r", 10)).unlink()
        assert s.http.delete(s.remote_href(uid("l", 2))).status_code in (200, 204)
        s.sync()
        expected |= {changed_local: "local ✎", changed_remote: "remote ✎"}
        del expected[uid("r", 10)], expected[uid("l", 2)]
        assert s.local_events() == expected
        assert s.remote_events() == expected

        # 3. the same event changed on both sides: a conflict vdirsyncer must not hide
        both = uid("l", 0)
        s.local_file(both).write_text(EVENT.format(uid=both, summary="mine"))
        s.put_remote(s.remote_href(both), both, "theirs")
        done = s.run("sync")
        assert done.returncode != 0
        assert "conflict" in (done.stdout + done.stderr).lower()
        assert s.local_events()[both] == "mine"
        assert s.remote_events()[both] == "theirs"

        # ... resolved with the server's version
        s.write_config('"b wins"')
        s.sync()
        expected[both] = "theirs"
        assert s.local_events() == expected
        assert s.remote_events() == expected
        s.http.close()
