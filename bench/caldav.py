"""caldav-gateway vs Radicale's own server: throughput ratios and added latency.

One run on loopback, both over TLS with the same certificate, the same htpasswd file
(bcrypt), the same Radicale settings and the *same* collections folder holding a
1,000-event calendar (uploaded once through Radicale's own PUT of a whole calendar):

- ``python -m radicale`` (its built-in threaded server, ``ssl = True``) — the peer;
- ``caldav-gateway serve`` with one worker, and with ``--workers 2``.

Figures (one line each):

1. requests/s through the gateway ÷ Radicale's, ``PROPFIND Depth: 1`` on the calendar
   (getetag, getcontenttype, resourcetype), concurrency 8, keep-alive clients;
2. the same for ``REPORT calendar-multiget`` of all 1,000 events (getetag, calendar-data);
   each for 1 and 2 workers. Targets: >= 1.0 with one worker, >= 1.7 with two (2 cores).
3. the added median latency of the gateway (one worker) on a cheap request
   (``PROPFIND Depth: 0`` on the calendar), one request at a time, each on a new TLS
   connection for both servers: Radicale's server answers HTTP/1.0 and closes after every
   response, so this keeps the transport cost equal. Target <= 1 ms.

Runs are interleaved (Radicale, gateway ×1, gateway ×2, then again) and each figure is the
median of the per-round ratios, so that a burst of other work on the shared cores spoils
one round rather than the figure. Radicale needs ~270 ms of CPU for the
PROPFIND, so request counts stay small; the whole run takes about two minutes.

    .venv/bin/python bench/caldav.py [--rounds 4] [--requests 16] [--latency-requests 150]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt
import httpx

from caldav_gateway.doctor.dav import parse_multistatus
from edgeward import pki

USER = "bench"
CALENDAR = f"/{USER}/bench/"
EVENTS = 1000
CONCURRENCY = 8

PROPFIND_LIST = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:getetag/><D:getcontenttype/><D:resourcetype/></D:prop></D:propfind>"
)
PROPFIND_SELF = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:resourcetype/><D:displayname/></D:prop></D:propfind>"
)


def multiget_body(hrefs: list[str]) -> bytes:
    refs = "".join(f"<D:href>{h}</D:href>" for h in hrefs)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f"<D:prop><D:getetag/><C:calendar-data/></D:prop>{refs}</C:calendar-multiget>"
    ).encode()


def calendar_ics(n: int) -> bytes:
    """One VCALENDAR with ``n`` events, a week apart, as a client export would hold."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//edgeward//bench//EN"]
    for i in range(n):
        day = 1 + i % 28
        month = 1 + (i // 28) % 12
        lines += [
            "BEGIN:VEVENT",
            f"UID:bench-{i:04d}@edgeward.invalid",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:2026{month:02d}{day:02d}T{9 + i % 8:02d}0000Z",
            f"DTEND:2026{month:02d}{day:02d}T{10 + i % 8:02d}0000Z",
            f"SUMMARY:Bench event {i}",
            f"DESCRIPTION:Event number {i} of the caldav-gateway benchmark.",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            sys.exit(f"server exited ({proc.returncode}): {log.read_text()[-1500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"nothing listens on 127.0.0.1:{port}: {log.read_text()[-1500:]}")
            time.sleep(0.1)


@contextlib.contextmanager
def started(argv: list[str], port: int, log: Path) -> Iterator[str]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_port(port, proc, log)
            yield f"https://127.0.0.1:{port}"
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def radicale_argv(work: Path, port: int) -> list[str]:
    """The peer: the settings the gateway gives its embedded Radicale, TLS by Radicale."""
    conf = work / "radicale.conf"
    conf.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\nssl = True\n"
        f"certificate = {work / 'cert.pem'}\nkey = {work / 'key.pem'}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {work / 'users'}\n"
        "htpasswd_encryption = autodetect\ndelay = 0\nrealm = CalDAV\n"
        "[rights]\ntype = owner_only\n"
        f"[storage]\nfilesystem_folder = {work / 'collections'}\n"
        "[web]\ntype = none\n[logging]\nlevel = warning\nmask_passwords = True\n"
    )
    return [sys.executable, "-m", "radicale", "-C", str(conf)]


def gateway_argv(work: Path, port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "caldav_gateway", "serve",
        "--listen", f"127.0.0.1:{port}",
        "--cert", str(work / "cert.pem"), "--key", str(work / "key.pem"),
        "--htpasswd", str(work / "users"), "--collections", str(work / "collections"),
        "--metrics-listen", "off", "--workers", str(workers), "--log-level", "warning",
    ]  # fmt: skip


Request = Callable[[httpx.Client], httpx.Response]


def throughput(
    base: str, tls: ssl.SSLContext, auth: httpx.BasicAuth, send: Request, n: int
) -> tuple[float, float]:
    """Requests/s for ``n`` requests spread over CONCURRENCY keep-alive clients, and the
    share of one core the client itself used (it runs on the same cores as the servers)."""
    counter = iter(range(n))
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        with httpx.Client(base_url=base, verify=tls, auth=auth, timeout=120) as client:
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                r = send(client)
                if r.status_code != 207:
                    errors.append(f"{r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    start, cpu = time.perf_counter(), time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        sys.exit(f"{base}: unexpected answers: {errors[:3]}")
    return n / elapsed, (time.process_time() - cpu) / elapsed


def latencies(
    base: str, tls: ssl.SSLContext, auth: httpx.BasicAuth, send: Request, n: int
) -> list[float]:
    out = []
    for _ in range(n):
        # A new connection per request for both servers (see the module docstring).
        with httpx.Client(base_url=base, verify=tls, auth=auth, timeout=30) as client:
            start = time.perf_counter()
            r = send(client)
            out.append(time.perf_counter() - start)
        if r.status_code != 207:
            sys.exit(f"{base}: unexpected {r.status_code}")
    return out


def prepare(work: Path, password: str) -> ssl.SSLContext:
    ca = pki.make_ca("bench CA")
    pki.write_pair(pki.issue(ca), work / "key.pem", work / "cert.pem")
    # Cost 4: the same cheap bcrypt for both servers; the bench measures serving, not hashing.
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
    (work / "users").write_text(f"{USER}:{hashed}\n")
    return ssl.create_default_context(cadata=ca.cert_pem().decode())


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rounds", type=int, default=4, help="interleaved rounds per figure")
    p.add_argument("--requests", type=int, default=16, help="requests per server per round")
    p.add_argument("--latency-requests", type=int, default=150, help="cheap requests per server")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-caldav-") as tmp:
        work = Path(tmp)
        password = secrets.token_urlsafe(12)
        auth = httpx.BasicAuth(USER, password)
        tls = prepare(work, password)
        ports = {"radicale": free_port(), "gateway x1": free_port(), "gateway x2": free_port()}
        with contextlib.ExitStack() as stack:
            print(f"starting Radicale and the gateway (1 and 2 workers) under {work}", flush=True)
            bases = {
                "radicale": stack.enter_context(
                    started(
                        radicale_argv(work, ports["radicale"]), ports["radicale"], work / "r.log"
                    )
                ),
                **{
                    name: stack.enter_context(
                        started(gateway_argv(work, ports[name], w), ports[name], work / f"g{w}.log")
                    )
                    for name, w in (("gateway x1", 1), ("gateway x2", 2))
                },
            }
            with httpx.Client(base_url=bases["radicale"], verify=tls, auth=auth, timeout=300) as c:
                print(f"uploading a calendar of {EVENTS} events", flush=True)
                r = c.put(
                    CALENDAR,
                    content=calendar_ics(EVENTS),
                    headers={"Content-Type": "text/calendar"},
                )
                if r.status_code not in (201, 204):
                    sys.exit(f"upload refused: {r.status_code} {r.text[:300]}")
                listing = c.request(
                    "PROPFIND", CALENDAR, content=PROPFIND_LIST, headers={"Depth": "1"}
                )
                hrefs = [
                    res.href for res in parse_multistatus(listing.content) if res.href != CALENDAR
                ]
            if len(hrefs) != EVENTS:
                sys.exit(f"expected {EVENTS} events, found {len(hrefs)}")
            multiget = multiget_body(hrefs)

            workloads: dict[str, Request] = {
                "PROPFIND Depth 1": lambda c: c.request(
                    "PROPFIND", CALENDAR, content=PROPFIND_LIST, headers={"Depth": "1"}
                ),
                "REPORT calendar-multiget": lambda c: c.request(
                    "REPORT", CALENDAR, content=multiget, headers={"Depth": "1"}
                ),
            }
            # Warm-up: Radicale's item cache, TLS session set-up, the workers' imports.
            for base in bases.values():
                for send in workloads.values():
                    throughput(base, tls, auth, send, 2)

            results: list[str] = []
            for label, send in workloads.items():
                rates: dict[str, list[float]] = {name: [] for name in bases}
                for rnd in range(args.rounds):
                    for name, base in bases.items():
                        rate, client_cpu = throughput(base, tls, auth, send, args.requests)
                        rates[name].append(rate)
                        print(
                            f"  {label}, round {rnd + 1}, {name}: {rate:.2f} req/s "
                            f"(client used {client_cpu:.0%} of a core)",
                            flush=True,
                        )
                peer = statistics.fmean(rates["radicale"])
                for name, target in (("gateway x1", 1.0), ("gateway x2", 1.7)):
                    mine = statistics.fmean(rates[name])
                    # Per-round ratios compare runs seconds apart; their median shrugs off a
                    # round in which another job on the shared cores took one of them.
                    ratios = [g / r for g, r in zip(rates[name], rates["radicale"], strict=True)]
                    results.append(
                        f"{label}, concurrency {CONCURRENCY}, {name[-1]} worker(s): "
                        f"gateway/radicale = {statistics.median(ratios):.2f} "
                        f"(median of {len(ratios)} rounds, {min(ratios):.2f}-{max(ratios):.2f}; "
                        f"{mine:.2f} vs {peer:.2f} req/s; target >= {target})"
                    )

            cheap: Request = lambda c: c.request(  # noqa: E731
                "PROPFIND", CALENDAR, content=PROPFIND_SELF, headers={"Depth": "0"}
            )
            lat: dict[str, list[float]] = {"radicale": [], "gateway x1": []}
            half = max(1, args.latency_requests // 2)
            for _ in range(2):  # interleaved halves
                for name in lat:
                    lat[name] += latencies(bases[name], tls, auth, cheap, half)
            med = {name: statistics.median(v) * 1000 for name, v in lat.items()}
            added = med["gateway x1"] - med["radicale"]
            results.append(
                f"added median latency, 1 worker, PROPFIND Depth 0, new TLS connection each: "
                f"{added:+.2f} ms (gateway {med['gateway x1']:.2f} ms vs radicale "
                f"{med['radicale']:.2f} ms; target <= 1 ms)"
            )
    load = os.getloadavg()[0]
    print(
        "== caldav: both over TLS, same certificate, users, settings and collections; "
        f"{os.cpu_count()} cores, load average {load:.1f} (other work shares the cores)"
    )
    for line in results:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
