"""Attacks of issue 11 against a running gateway, and the real client whose latency they must
not ruin: idle and half-open connections from many loopback addresses, deep-XML PROPFINDs.

Everything stays on 127.0.0.0/8 (Linux routes the whole /8 to ``lo``, so the attackers are
other loopback source addresses than the real client's 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import resource
import select
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
from caldav.davclient import DAVClient

from tests.support.gateway import Gateway

FIGURES = Path(__file__).parents[2] / "var" / "figures"

# The start of a TLS ClientHello record (handshake, TLS 1.0 record version, length 512),
# never completed: what a half-open handshake flood sends.
PARTIAL_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"


def record_figure(name: str, text: str) -> None:
    """Print a measured figure and keep it under var/figures/ for the closing note."""
    print(text)
    FIGURES.mkdir(parents=True, exist_ok=True)
    (FIGURES / f"{name}.txt").write_text(text + "\n")


def raise_open_file_limit(wanted: int) -> None:
    """Raise this process's soft RLIMIT_NOFILE (children inherit it) up to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def sync_round(gw: Gateway, user: str = "alice") -> float:
    """One sync of a fresh ``caldav`` client (new connection and handshake); seconds taken."""
    started = time.monotonic()
    with DAVClient(
        url=gw.url + "/",
        username=user,
        password=gw.users[user],
        ssl_verify_cert=str(gw.ca),
        timeout=60,
    ) as client:
        principal = client.principal()
        calendars = principal.calendars()
        calendar = next((c for c in calendars if c.id == "attack"), None)
        if calendar is None:
            calendar = principal.make_calendar(name="Attack", cal_id="attack")
        day = dt.datetime(2026, 12, 1, 9, 0)
        calendar.add_event(
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//edgeward//t//EN\nBEGIN:VEVENT\n"
            f"UID:{uuid.uuid4()}\nDTSTAMP:20261101T090000Z\nDTSTART:{day:%Y%m%dT%H%M%SZ}\n"
            "SUMMARY:sync\nEND:VEVENT\nEND:VCALENDAR\n"
        )
        calendar.search(event=True, start=day, end=day + dt.timedelta(days=1))
        calendar.objects_by_sync_token(load_objects=False)
    return time.monotonic() - started


def median_sync(gw: Gateway, rounds: int) -> tuple[float, list[float]]:
    times = [sync_round(gw) for _ in range(rounds)]
    return statistics.median(times), times


def open_metric(gw: Gateway, name: str) -> float:
    for line in httpx.get(gw.metrics_url, timeout=30).text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


class IdleFlood:
    """Keeps ``count`` idle connections open from ``sources`` addresses, re-opening each one
    the gateway closes: a third send nothing, a third half a ClientHello, a third finish the
    handshake and then drip a request line without ever ending the headers."""

    def __init__(self, gw: Gateway, count: int, sources: list[str]) -> None:
        self.gw = gw
        self.count = count
        self.sources = sources
        self.reopened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tls = ssl.create_default_context(cafile=str(gw.ca))

    def _open(self, i: int) -> socket.socket | ssl.SSLSocket | None:
        source = self.sources[i % len(self.sources)]
        try:
            raw = socket.create_connection(
                (self.gw.host, self.gw.port), timeout=10, source_address=(source, 0)
            )
            kind = i % 3
            if kind == 1:
                raw.sendall(PARTIAL_HELLO)
            if kind == 2:
                tls = self._tls.wrap_socket(raw, server_hostname="localhost")
                tls.sendall(b"PROPFIND /alice/ HTTP/1.1\r\nHost: x\r\n")
                tls.setblocking(False)
                return tls
            raw.setblocking(False)
            return raw
        except OSError:
            return None

    def _run(self) -> None:
        # poll, not select: the flood's descriptors go past select()'s limit of 1024
        poller = select.poll()
        conns: dict[int, tuple[int, socket.socket | ssl.SSLSocket]] = {}  # fd → (slot, socket)

        def fill(slot: int) -> None:
            c = self._open(slot)
            if c is not None:
                conns[c.fileno()] = (slot, c)
                poller.register(c.fileno(), select.POLLIN)

        for slot in range(self.count):
            if self._stop.is_set():
                break
            fill(slot)
        try:
            while not self._stop.is_set():
                for fd, _ in poller.poll(200):
                    slot, c = conns[fd]
                    closed = False
                    try:
                        closed = c.recv(4096) == b""
                    except (ssl.SSLWantReadError, BlockingIOError):
                        pass
                    except OSError:
                        closed = True
                    if closed:
                        poller.unregister(fd)
                        del conns[fd]
                        c.close()
                        self.reopened += 1
                        fill(slot)
                missing = set(range(self.count)) - {slot for slot, _ in conns.values()}
                for slot in sorted(missing):
                    if self._stop.is_set():
                        break
                    fill(slot)
        finally:
            for _, c in conns.values():
                with contextlib.suppress(OSError):
                    c.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[IdleFlood]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(60)


_FLOOD_SCRIPT = """
import sys, httpx
url, ca, user, password, body_file = sys.argv[1:6]
body = open(body_file, "rb").read()
with httpx.Client(verify=httpx.create_ssl_context(verify=ca), timeout=60) as c:
    while True:
        try:
            r = c.request("PROPFIND", url, auth=(user, password), content=body)
            print(r.status_code, flush=True)
        except httpx.HTTPError:
            print("error", flush=True)
"""


class DeepXMLFlood:
    """Sends authenticated PROPFINDs of ``body``, back to back, from ``workers`` processes
    (processes, so that the flood does not slow the measuring client in this one); counts
    the answers by status."""

    def __init__(self, gw: Gateway, body: bytes, workers: int = 2) -> None:
        self.gw = gw
        self.body = body
        self.workers = workers
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self._procs: list[subprocess.Popen[str]] = []
        self._threads: list[threading.Thread] = []

    def _count(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            word = line.strip()
            if word.isdigit():
                self.statuses[int(word)] = self.statuses.get(int(word), 0) + 1
            elif word:
                self.errors += 1

    @contextlib.contextmanager
    def running(self) -> Iterator[DeepXMLFlood]:
        with tempfile.TemporaryDirectory(prefix="deep-xml-") as tmp:
            body_file = Path(tmp) / "body.xml"
            body_file.write_bytes(self.body)
            argv = [
                sys.executable,
                "-c",
                _FLOOD_SCRIPT,
                *(self.gw.url + "/bob/", str(self.gw.ca), "bob", self.gw.users["bob"]),
                str(body_file),
            ]
            for _ in range(self.workers):
                proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
                self._procs.append(proc)
                thread = threading.Thread(target=self._count, args=(proc,), daemon=True)
                thread.start()
                self._threads.append(thread)
            try:
                yield self
            finally:
                for proc in self._procs:
                    proc.terminate()
                for proc in self._procs:
                    proc.wait(30)
                for thread in self._threads:
                    thread.join(30)
