"""Benchmark: what the corruption sensor and the attribution engine cost, against peers.

One line per figure, each a ratio against a baseline measured in the same run:

1. requests/s of a small Starlette app under uvicorn *with* ``CorruptionSensorMiddleware``
   (prefix table loaded, every request counted for its AS, path, query, Referer and Cookie
   classified) ÷ *without*; clean requests, same load generator (``wrk`` if installed,
   else an asyncio keep-alive loop), loopback, configurations interleaved (target >= 0.97);
2. the classifier's clean path, per typical request target ÷ the 0.3 µs budget (<= 1);
3. ``PrefixTable.lookup`` ÷ ``pyasn``'s lookup, same table (pyasn reads a ``.dat`` written
   from ours), same addresses (target <= 1: we are no slower than the C radix tree);
4. edge log ingest lines/s ÷ asncounter on the visits mix (target >= 3) — the edge
   sensor's figure, see :func:`edge_ingest_vs_asncounter`.

Run: ``.venv/bin/python bench/corruption.py`` (about a minute; ``--quick`` for less;
``--only ingest`` for the edge figure alone).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import best_per_call, child_server, cpu_seconds, free_port, load
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from middleware.attribution.attributor import Attributor
from middleware.attribution.prefix_table import PrefixTable
from middleware.corruption.classify import classify
from middleware.corruption.sensor import CorruptionSensorMiddleware

TARGET = "/api/v1/users/12345/orders?page=2&sort=desc"
HEADERS = {
    "Referer": "https://shop.example.org/account/orders?tab=recent",
    "Cookie": "sessionid=6f1d2c3b4a5e; theme=dark; consent=1",
}
CLEAN_PATHS = [
    b"/",
    b"/static/css/app.3f9a1c.css",
    b"/api/v1/users/12345/orders",
    b"/media/holiday/IMG_2041.jpg",
]


# --- a realistic table ----------------------------------------------------------------------


def synthetic_prefixes(count: int, seed: int = 9506) -> list[tuple[str, int]]:
    """``count`` IPv4 prefixes, /12 to /24, about a third nested in others, public space."""
    rng = random.Random(seed)
    out: list[tuple[str, int]] = []
    for i in range(count):
        if out and i % 3 == 0:  # a more specific inside an earlier prefix
            parent = ipaddress.IPv4Network(out[rng.randrange(len(out))][0])
            plen = min(24, parent.prefixlen + rng.randint(1, 8))
            span = 1 << (plen - parent.prefixlen)
            base = int(parent.network_address) + rng.randrange(span) * (1 << (32 - plen))
        else:
            plen = rng.choice((12, 14, 16, 18, 19, 20, 21, 22, 22, 23, 24, 24, 24, 24))
            base = rng.randrange(1 << 24, 223 << 24) >> (32 - plen) << (32 - plen)
        out.append((str(ipaddress.IPv4Network((base, plen))), 1000 + rng.randrange(60_000)))
    return out


def write_dat(prefixes: list[tuple[str, int]], path: Path) -> None:
    with path.open("w") as fh:
        fh.write("; IP-ASN32-DAT file\n; Original source: edgeward bench (synthetic)\n")
        fh.writelines(f"{cidr}\t{asn}\n" for cidr, asn in prefixes)


def sample_addresses(table: PrefixTable, count: int, seed: int = 4) -> list[str]:
    """Addresses inside the table's ranges (a hit each) and a fifth anywhere."""
    rng = random.Random(seed)
    starts, ends = table._v4_start, table._v4_end
    out = []
    for i in range(count):
        if i % 5:
            j = rng.randrange(len(starts))
            value = rng.randint(starts[j], ends[j])
        else:
            value = rng.randrange(1 << 24, 223 << 24)
        out.append(str(ipaddress.IPv4Address(value)))
    return out


# --- 2: the classifier's clean path ------------------------------------------------------------


def classifier(number: int, rounds: int) -> None:
    for path in CLEAN_PATHS:
        assert classify(path) is None
    funcs: dict[str, Callable[[], object]] = {
        p.decode(): (lambda p=p: classify(p))  # type: ignore[misc]
        for p in CLEAN_PATHS
    }
    funcs["(empty call)"] = lambda: None
    t = best_per_call(funcs, number, rounds)
    overhead = t.pop("(empty call)")
    worst_name = max(t, key=t.__getitem__)
    typical = statistics.median(t.values()) - overhead
    print(
        f"classifier clean path ÷ 0.3 µs budget: {typical / 0.3e-6:.2f}  (target <= 1; "
        f"median {typical * 1e9:.0f} ns over {len(t)} typical paths, slowest "
        f"{(t[worst_name] - overhead) * 1e9:.0f} ns for {worst_name!r}; call overhead "
        f"{overhead * 1e9:.0f} ns excluded)"
    )


# --- 3: prefix lookup vs pyasn -----------------------------------------------------------------


def lookups(table: PrefixTable, dat: Path, addresses: list[str], rounds: int) -> None:
    import pyasn

    peer = pyasn.pyasn(str(dat))
    for ip in addresses[:2000]:  # same answers first
        ours, theirs = table.lookup(ip), peer.lookup(ip)
        assert (ours.asn if ours else None) == theirs[0], (ip, ours, theirs)
        assert (ours.prefix if ours else None) == theirs[1], (ip, ours, theirs)

    def ours() -> None:
        lookup = table.lookup
        for ip in addresses:
            lookup(ip)

    def ours_asn() -> None:
        lookup = table.lookup_asn
        for ip in addresses:
            lookup(ip)

    def theirs() -> None:
        lookup = peer.lookup
        for ip in addresses:
            lookup(ip)

    t = best_per_call({"ours": ours, "asn": ours_asn, "pyasn": theirs}, 1, rounds)
    n = len(addresses)
    print(
        f"prefix lookup time ÷ pyasn (lookup → ASN and prefix, {len(table):,} ranges): "
        f"{t['ours'] / t['pyasn']:.2f}  (target <= 1; {t['ours'] / n * 1e6:.2f} µs vs "
        f"{t['pyasn'] / n * 1e6:.2f} µs per lookup; ASN only: {t['asn'] / n * 1e6:.2f} µs)"
    )


# --- 1: end to end under uvicorn ---------------------------------------------------------------


async def orders(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def build(config: str, dat: str) -> object:
    app = Starlette(routes=[Route("/api/v1/users/{uid}/orders", orders)])
    if config == "without":
        return app
    attributor = Attributor(PrefixTable.load(dat))
    return CorruptionSensorMiddleware(app, attributor=attributor)


def serve(config: str, port: int, dat: str) -> None:
    import uvicorn

    uvicorn.run(
        build(config, dat),  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )


@contextlib.contextmanager
def server(config: str, dat: Path) -> Iterator[tuple[int, int]]:
    """A uvicorn child process serving ``config``; yields its port and pid."""
    port = free_port()
    argv = [sys.executable, __file__, "--serve", config, "--port", str(port), "--dat", str(dat)]
    with child_server(argv, port, f"uvicorn ({config})") as pid:
        yield port, pid


def clean_rps(port: int, seconds: float, conns: int) -> float:
    return load(port, TARGET, seconds, conns, HEADERS)[0]


def end_to_end(dat: Path, ranges: int, seconds: float, rounds: int, conns: int) -> None:
    tool = "wrk" if shutil.which("wrk") else "asyncio loop"
    # A second "without" server is an A/A control: its ratio to the first is the noise
    # floor of this machine (on a shared 2-core box it can exceed the sensor's cost).
    configs = ("with", "without", "control")
    rps: dict[str, list[float]] = {c: [] for c in configs}
    cpu: dict[str, list[float]] = {c: [] for c in configs}  # server CPU s per request
    with contextlib.ExitStack() as stack:
        servers = {
            c: stack.enter_context(server("without" if c == "control" else c, dat)) for c in configs
        }
        for port, _ in servers.values():
            clean_rps(port, 1, conns)  # warm-up
        for i in range(rounds):
            for config in configs if i % 2 == 0 else reversed(configs):
                port, pid = servers[config]
                before = cpu_seconds(pid)
                rate = clean_rps(port, seconds, conns)
                rps[config].append(rate)
                cpu[config].append((cpu_seconds(pid) - before) / (rate * seconds))
    # Best of the rounds: on a shared machine other work only ever lowers a round's
    # rate, so the best round is the least disturbed (timeit's reasoning); medians shown too.
    best = {c: max(rps[c]) for c in configs}
    med = {c: statistics.median(rps[c]) for c in configs}
    print(
        f"clean req/s with ÷ without CorruptionSensorMiddleware (uvicorn, Starlette, "
        f"{ranges:,}-range table, {tool} -c{conns}, loopback): "
        f"{best['with'] / best['without']:.3f}  (target >= 0.97; best {best['with']:.0f} vs "
        f"{best['without']:.0f} req/s of {rounds} interleaved rounds of {seconds:g} s; medians "
        f"ratio {med['with'] / med['without']:.3f}; A/A control without ÷ without: best "
        f"{best['control'] / best['without']:.3f}, medians {med['control'] / med['without']:.3f})"
    )
    # The same cost seen as server CPU time per request, which other processes on a busy
    # machine disturb less than wall-clock rates: the req/s one core could serve.
    cw, cwo = statistics.median(cpu["with"]), statistics.median(cpu["without"])
    cc = statistics.median(cpu["control"])
    print(
        f"clean req/s per server CPU second, with ÷ without the sensor: {cwo / cw:.3f}  "
        f"(target >= 0.97; medians {cw * 1e6:.0f} vs {cwo * 1e6:.0f} µs of CPU per request; "
        f"A/A control {cwo / cc:.3f})"
    )
    # Finer still: the sensor's own cost, timed in-process (direct ASGI calls, best of
    # interleaved rounds), set against the server's CPU time per request without it.
    cost = asyncio.run(sensor_cost(dat))
    print(
        f"clean req/s with ÷ without, from the sensor's in-process cost: "
        f"{cwo / (cwo + cost):.3f}  (target >= 0.97; the sensor adds {cost * 1e6:.1f} µs to "
        f"{cwo * 1e6:.0f} µs of server CPU per request)"
    )


async def sensor_cost(dat: Path, rounds: int = 6, number: int = 5000) -> float:
    """Seconds the sensor adds to one clean request: the same Starlette app called
    directly (no server, no network) with and without it, best of interleaved rounds."""
    apps = {config: build(config, str(dat)) for config in ("with", "without")}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": TARGET.split("?")[0],
        "raw_path": TARGET.split("?")[0].encode(),
        "query_string": TARGET.split("?")[1].encode(),
        "root_path": "",
        "headers": [(b"host", b"bench")]
        + [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: object) -> None:
        return None

    best = dict.fromkeys(apps, float("inf"))
    for _ in range(rounds):
        for config, app in apps.items():
            started = time.perf_counter()
            for _ in range(number):
                await app({**scope, "state": {}}, receive, send)  # type: ignore[operator]
            best[config] = min(best[config], (time.perf_counter() - started) / number)
    return best["with"] - best["without"]


# --- 4: edge log ingest (part B) ---------------------------------------------------------------


def _ingest_lines(addresses: list[str], lines: int, burst: float, seed: int = 76) -> list[str]:
    """Clients for ``lines`` requests: bursts of about ``burst`` requests per visit."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < lines:
        n = 1 if burst <= 1 else int(rng.expovariate(1 / burst)) + 1
        out.extend([rng.choice(addresses)] * n)
    del out[lines:]
    return out


def _write_combined(clients: list[str], path: Path, corrupted: int = 76) -> None:
    """Full ``combined`` lines as nginx writes them; ``corrupted`` carry the seed's bytes."""
    rng = random.Random(7)
    tails = [
        f'"GET {p} HTTP/1.1" {rng.choice((200, 200, 200, 304, 404))} {rng.randrange(200, 90_000)}'
        f' "-" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"\n'
        for p in (TARGET, "/", "/static/css/app.3f9a1c.css", "/media/IMG_2041.jpg?w=640")
    ]
    bad = '"GET /media/IMG_20\\x80\\x01.jpg?w=640 HTTP/1.1" 400 157 "-" "-"\n'
    every = max(1, len(clients) // max(1, corrupted))
    with path.open("w", encoding="ascii") as fh:
        fh.write(
            "".join(
                f"{c} - - [27/Nov/2026:03:{i // 60_000 % 60:02d}:{i // 1000 % 60:02d} +0000] "
                + (bad if i % every == every // 2 else tails[i & 3])
                for i, c in enumerate(clients)
            )
        )


def _ours(table: PrefixTable, log: Path) -> tuple[float, int, int]:
    """Seconds for dpi-watch's ingest over ``log`` read in 1 MiB blocks, as its tail does."""
    from middleware.edge.watch import EdgeIngest

    ingest = EdgeIngest(Attributor(table=table))
    started = time.perf_counter()
    with log.open("rb") as fh:
        rest = b""
        while block := fh.read(1 << 20):
            end = block.rfind(b"\n") + 1
            ingest.feed(rest + block[:end])
            rest = block[end:]
        ingest.feed(rest)
        ingest.flush()
    return time.perf_counter() - started, ingest.lines, ingest.corrupted


def _asncounter(dat: Path, addresses: Path, cache: Path) -> float:
    """Seconds asncounter takes to count ``addresses`` (its own loading time taken out)."""
    import logging

    import asncounter
    import pyasn

    # asncounter picks the newest ``ipasn_*`` file in its cache folder.
    shutil.copy(dat, cache / "ipasn_20261127.0000.dat")
    started = time.perf_counter()
    pyasn.pyasn(str(dat))
    load = time.perf_counter() - started
    started = time.perf_counter()
    # (--output-format null trips over a bug in asncounter 0.7's signal set-up: tsv to a file)
    asncounter.main(
        [
            *("--cache-directory", str(cache), "--input", str(addresses)),
            *("--output", str(cache / "counts.tsv"), "--no-resolve-asn"),
            "--no-prefixes",  # count by AS only, as we do: its fastest configuration
        ]
    )
    elapsed = time.perf_counter() - started - load
    logging.getLogger().handlers.clear()  # asncounter's basicConfig; keep our output clean
    return elapsed


def edge_ingest_vs_asncounter(
    table_path: Path,
    dat: Path,
    addresses: list[str],
    rounds: int = 5,
    mixes: tuple[str, ...] = ("visits", "scattered"),
) -> dict[str, float]:
    """Edge log ingest lines/s ÷ asncounter (target >= 3 on *visits*), per client mix.

    Ours: full nginx ``combined`` lines through ``dpi-watch``'s ingest (shape check and
    client extraction over whole blocks, the suspicious lines parsed and classified, every
    request counted for its AS via the prefix table's integer path; 76 corrupted lines are
    classified and queued as events). asncounter: the same client addresses, one per line,
    the same table as a pyasn ``.dat`` in its cache folder. Both read from a file; table
    loading is excluded on both sides.

    Mixes: *visits* (a client fetches a page and its assets: bursts of ~8 requests, as in
    real access logs) and *scattered* (every line a random client: the worst case for our
    per-block de-duplication).

    Method: ``rounds`` interleaved rounds (ours, then asncounter, alternating which goes
    first) with the garbage collector on, as a server runs; the figure is the median of
    the per-round ratios, so a round disturbed by other work on a shared machine moves it
    little. Returns the figure per mix.
    """
    table = PrefixTable.load(table_path)
    quick = len(addresses) < 50_000
    lines = 200_000 if quick else 300_000
    bursts = {"visits": 8.0, "scattered": 1.0}
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="edgeward-ingest-") as tmp:
        d = Path(tmp)
        (d / "cache").mkdir()
        for mix in mixes:
            clients = _ingest_lines(addresses, lines, bursts[mix])
            _write_combined(clients, d / "access.log")
            (d / "addresses").write_text("\n".join(clients) + "\n", encoding="ascii")
            ratios: list[float] = []
            ours_s: list[float] = []
            theirs_s: list[float] = []
            for i in range(rounds):
                took = theirs = 0.0

                def run_ours() -> None:
                    nonlocal took
                    took, seen, corrupted = _ours(table, d / "access.log")
                    assert seen == lines and corrupted == 76, (seen, corrupted)

                def run_theirs() -> None:
                    nonlocal theirs
                    theirs = _asncounter(dat, d / "addresses", d / "cache")

                for run in (run_ours, run_theirs) if i % 2 == 0 else (run_theirs, run_ours):
                    run()
                ours_s.append(took)
                theirs_s.append(theirs)
                ratios.append(theirs / took)
            ratio = statistics.median(ratios)
            figures[mix] = ratio
            ours, theirs = statistics.median(ours_s), statistics.median(theirs_s)
            target = "target >= 3" if mix == "visits" else "no target: the worst case"
            print(
                f"edge log ingest lines/s ÷ asncounter ({mix}: {lines:,} combined lines, "
                f"{len(set(clients)):,} clients, {len(table):,}-range table): "
                f"{ratio:.2f}  ({target}; median of {rounds} interleaved rounds, GC on, "
                f"rounds {min(ratios):.2f}–{max(ratios):.2f}; medians {lines / ours / 1e6:.2f} M "
                f"lines/s vs {lines / theirs / 1e6:.2f} M addresses/s)"
            )
    return figures


# --- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, smaller table")
    parser.add_argument(
        "--only",
        choices=("classifier", "lookups", "end-to-end", "ingest"),
        action="append",
        help="run only this figure (repeatable); ingest: the visits mix alone",
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds of the ingest figure")
    parser.add_argument("--serve", choices=("with", "without"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dat", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.dat)
        return 0
    count = 100_000 if args.quick else 300_000
    with tempfile.TemporaryDirectory(prefix="edgeward-bench-") as tmp:
        dat = Path(tmp) / "ipasn.dat"
        write_dat(synthetic_prefixes(count), dat)
        started = time.perf_counter()
        table = PrefixTable.load(dat)
        print(
            f"(table: {count:,} prefixes → {len(table):,} ranges, loaded in "
            f"{time.perf_counter() - started:.1f} s)"
        )
        addresses = sample_addresses(table, 20_000 if args.quick else 100_000)
        only = set(args.only or ("classifier", "lookups", "end-to-end", "ingest"))
        if "classifier" in only:
            classifier(100_000 if args.quick else 300_000, 3 if args.quick else 5)
        if "lookups" in only:
            lookups(table, dat, addresses, 3 if args.quick else 5)
        if "end-to-end" in only:
            end_to_end(dat, len(table), 2, 3 if args.quick else 6, 8)
        if "ingest" in only:
            rounds = args.rounds or (3 if args.quick else 5)
            mixes = ("visits",) if args.only else ("visits", "scattered")
            figures = edge_ingest_vs_asncounter(dat, dat, addresses, rounds, mixes)
            print(
                f"SUMMARY edge ingest ÷ asncounter, visits mix: {figures['visits']:.2f} "
                f"(target >= 3: {'met' if figures['visits'] >= 3 else 'NOT met'})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
