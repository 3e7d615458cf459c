"""Benchmark: instructions per request of the server process, with and without each middleware.

Wall-clock and CPU-second ratios swing ±30 % round to round on a shared machine, so they
cannot resolve a 3 % budget. Instructions executed can: each configuration runs as a
uvicorn server (one process) under ``valgrind --tool=callgrind``, the requests come from a
client outside valgrind (one keep-alive connection, one request at a time), and
``callgrind_control`` reads the instruction counter between batches. A batch of N and one
of 2N requests, each after zeroing the counter, differ by exactly N requests' work:
whatever the counter collects besides requests (the zeroing, the reading) cancels out.

Two things made the count depend on time, and both are removed (measured: the spread
within a run went from 1.4-4.2 % to under 0.2 %):

- uvicorn's server loop wakes every 0.1 s (date header, exit check): about 63k
  instructions a wake under callgrind, so a batch collected more the longer a loaded
  machine made it last. The server here runs uvicorn without that timer (``QuietServer``);
  an idle server then executes nothing (577 instructions over 2, 5 or 10 s).
- the next request sometimes arrived while the server was still finishing the previous
  one, which saved an event-loop iteration: the client sends each request only once the
  server sleeps in ``epoll_wait`` (``/proc/PID/syscall``), so every request meets an idle
  server and takes the same path.

The garbage collector stays on and the hash seed is fixed (``PYTHONHASHSEED=0``).

Configurations: ``without`` (a small Starlette app), ``signed`` (behind
``SignedURLMiddleware``), ``sensor`` (behind ``CorruptionSensorMiddleware`` with a prefix
table, counting every request for its AS and classifying path, query, Referer and Cookie)
and ``empty`` (behind a pass-through ASGI layer: the control, what any layer costs). Every
configuration gets the same signed request with the same headers. Each figure is a ratio
against ``without`` measured in the same run; the spread is over ``--rounds`` rounds, and
with ``--runs K`` over K runs with fresh server processes (the ``SUMMARY`` lines).

Run: ``.venv/bin/python bench/cost.py [--runs 3]`` (about 10 minutes per run under a load
of 20 on 2 cores; the counts do not depend on the load, only the time taken does).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corruption import synthetic_prefixes, write_dat
from harness import PassThrough, bench_parser, free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from middleware.signed import KeyRing, SignedURLMiddleware, sign_url

CONFIGS = ("without", "signed", "sensor", "empty")
SECRET = "c2VjcmV0LWtleS1mb3ItdGVzdC12ZWN0b3JzLTAwMDE"
RING = KeyRing.parse(f"k1 {SECRET}")
URL = sign_url("/media/cat.jpg?w=640", RING, expires_at=4_000_000_000)
HEADERS = {
    "Referer": "https://shop.example.org/account/orders?tab=recent",
    "Cookie": "sessionid=6f1d2c3b4a5e; theme=dark; consent=1",
}
PREFIXES = 10_000  # table size: a lookup is a bisection, so its cost grows only as log n


async def media(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def build(config: str, dat: str) -> ASGIApp:
    app = Starlette(routes=[Route("/media/{name}", media)])
    if config == "signed":
        return SignedURLMiddleware(app, keyring=RING)
    if config == "sensor":
        from middleware.attribution.attributor import Attributor
        from middleware.attribution.prefix_table import PrefixTable
        from middleware.corruption.sensor import CorruptionSensorMiddleware

        return CorruptionSensorMiddleware(app, attributor=Attributor(PrefixTable.load(dat)))
    if config == "empty":
        return PassThrough(app)
    return app


def serve(config: str, port: int, dat: str) -> None:
    import asyncio

    import uvicorn

    class QuietServer(uvicorn.Server):
        """uvicorn without its 0.1 s timer. Its ``main_loop`` wakes ten times a second
        (about 63k instructions a wake under callgrind), so the instructions counted
        during a batch grew with the batch's wall time, which a loaded machine stretches
        at random. Here the loop sleeps until a signal: what runs is what requests cause.
        The date header is computed once (every answer carries the same bytes)."""

        async def main_loop(self) -> None:
            await self.on_tick(0)
            loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._loop = loop
            while not self.should_exit:
                await self._wake.wait()

        def handle_exit(self, sig: int, frame: object) -> None:
            super().handle_exit(sig, frame)  # type: ignore[arg-type]
            # A signal.signal handler runs between bytecodes of the main thread; the
            # thread-safe call writes to the loop's self-pipe, which wakes its epoll.
            loop = getattr(self, "_loop", None)
            if loop is not None:
                loop.call_soon_threadsafe(self._wake.set)

    config = uvicorn.Config(
        build(config, dat),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        # Between batches the client waits for callgrind_control, seconds on a busy
        # machine: uvicorn's 5 s keep-alive default would close the connection.
        timeout_keep_alive=3600,
    )
    QuietServer(config).run()


# --- the client, outside valgrind ---------------------------------------------------------


class Client:
    """One keep-alive connection; one request at a time, each answer read in full."""

    def __init__(self, port: int, pid: int) -> None:
        self.pid = pid
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=300)
        extra = "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
        self.request = f"GET {URL} HTTP/1.1\r\nHost: bench\r\n{extra}\r\n".encode()
        self.buffer = b""

    def get(self, count: int) -> None:
        for _ in range(count):
            wait_idle(self.pid)
            self.sock.sendall(self.request)
            while b"\r\n\r\n" not in self.buffer:
                self._read()
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            match = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
            length = int(match.group(1)) if match else 0
            while len(self.buffer) < length:
                self._read()
            self.buffer = self.buffer[length:]

    def _read(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


# epoll_wait, epoll_pwait, epoll_pwait2 on x86-64 and (the last two) on arm64.
_EPOLL_WAITS = frozenset({"232", "281", "441", "22"})


def wait_idle(pid: int) -> None:
    """Return once the server sleeps in epoll_wait, i.e. has finished the last request.

    Without this wait the next request sometimes arrived while the server was still
    finishing the previous one (a loaded machine delays client or server at random), and
    the event loop then took one iteration less: about 1,000 instructions per request of
    noise. Valgrind runs the guest's blocking system calls itself, in the same thread, so
    ``/proc/PID/syscall`` names the call the server is blocked in.
    """
    path = Path(f"/proc/{pid}/syscall")
    while path.read_text().split(" ", 1)[0] not in _EPOLL_WAITS:
        time.sleep(0.0005)


# --- the server, inside valgrind ----------------------------------------------------------


def _control(pid: int, prefix: str, *args: str) -> str:
    # Always name the pid: without one, callgrind_control acts on every callgrind run on
    # the machine, other people's included.
    return subprocess.run(
        ["callgrind_control", f"--vgdb-prefix={prefix}", *args, str(pid)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout


def instructions(pid: int, prefix: str) -> int:
    """Instructions executed since the last zeroing, all threads."""
    out = _control(pid, prefix, "-e", "Ir")
    counts = re.findall(r"^\s*Th\s+\d+\s+([\d,]+)", out, re.MULTILINE)
    if not counts:
        raise RuntimeError(f"cannot read callgrind_control's output:\n{out}")
    return sum(int(c.replace(",", "")) for c in counts)


@contextlib.contextmanager
def callgrind_server(config: str, dat: Path, tmp: Path) -> Iterator[tuple[int, int, str]]:
    """A uvicorn server for ``config`` under callgrind: (port, pid, vgdb prefix)."""
    port = free_port()
    prefix = str(tmp / f"vgdb-{config}")
    argv = [
        "valgrind",
        "--tool=callgrind",
        f"--vgdb-prefix={prefix}",
        f"--callgrind-out-file={tmp / f'callgrind.{config}.%p'}",
        sys.executable,
        __file__,
        *("--serve", config, "--port", str(port), "--dat", str(dat)),
    ]
    # A fixed hash seed: the same dict layouts, hence the same instructions, every run.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    log = (tmp / f"valgrind.{config}.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 600  # start-up under valgrind: tens of seconds
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"uvicorn ({config}) under valgrind did not start:\n"
                    + (tmp / f"valgrind.{config}.log").read_text(errors="replace")[-2000:]
                )
            time.sleep(0.2)
        yield port, proc.pid, prefix
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def per_request(
    config: str, dat: Path, tmp: Path, args: argparse.Namespace, profile: Path | None
) -> list[float]:
    """Instructions per request of ``config``, one figure per round; one more try when
    the server under valgrind does not come up (a shared machine: a port taken between
    probing and binding, a process killed from outside)."""
    try:
        return _per_request(config, dat, tmp, args, profile)
    except (RuntimeError, OSError) as exc:
        print(f"({config}: {str(exc).splitlines()[0]}; trying once more)", file=sys.stderr)
        return _per_request(config, dat, tmp, args, profile)


def _per_request(
    config: str, dat: Path, tmp: Path, args: argparse.Namespace, profile: Path | None
) -> list[float]:
    out: list[float] = []
    n = args.n
    with callgrind_server(config, dat, tmp) as (port, pid, prefix):
        client = Client(port, pid)
        try:
            client.get(args.warm)  # imports, caches and the specialising interpreter settle
            for _ in range(args.rounds):
                counts = []
                for batch in (n, 2 * n):
                    _control(pid, prefix, "--zero")
                    client.get(batch)
                    counts.append(instructions(pid, prefix))
                out.append((counts[1] - counts[0]) / n)
            if profile is not None:
                # Two more batches, n and 2n requests, each dumped on its own: what a
                # profile holds besides requests (the zeroing, the dumping) cancels in
                # their difference, as the counts do above. (The first dump of a process
                # also holds costs from before the last zeroing: made and dropped first.)
                _control(pid, prefix, f"--dump={config}-0")
                for batch in (n, 2 * n):
                    _control(pid, prefix, "--zero")
                    client.get(batch)
                    _control(pid, prefix, f"--dump={config}-{batch}")
                    dumped = max(  # callgrind numbers its dumps .1, .2, ...
                        tmp.glob(f"callgrind.{config}.{pid}.*"),
                        key=lambda p: int(p.suffix[1:]),
                    )
                    shutil.copy(dumped, profile / f"callgrind.{config}.{batch}.out")
        finally:
            client.close()
    return out


def spread(values: list[float]) -> float:
    """(max - min) ÷ median, as a percentage."""
    return (max(values) - min(values)) / statistics.median(values) * 100


NAMES: Final = {
    "signed": ("SignedURLMiddleware", 0.95),
    "sensor": ("CorruptionSensorMiddleware", 0.97),
    "empty": ("control: an empty pass-through layer", None),
}


def one_run(args: argparse.Namespace, tmp: Path) -> dict[str, list[float]]:
    """Instructions per request of every configuration, ``--rounds`` figures each, from
    fresh server processes."""
    dat = tmp / "ipasn.dat"
    write_dat(synthetic_prefixes(PREFIXES), dat)
    profile = Path(args.profile) if args.profile else None
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {
            c: pool.submit(per_request, c, dat, tmp, args, profile) for c in ("without", *args.only)
        }
        return {c: f.result() for c, f in futures.items()}


def main() -> int:
    parser = bench_parser(__doc__.split("\n\n")[0], CONFIGS)
    parser.add_argument("-n", type=int, default=50, help="requests in the small batch")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per configuration")
    parser.add_argument("--runs", type=int, default=1, help="runs, each with fresh servers")
    parser.add_argument("--warm", type=int, default=100, help="warm-up requests")
    parser.add_argument("--jobs", type=int, default=2, help="servers under valgrind at once")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=CONFIGS[1:],
        default=list(CONFIGS[1:]),
        metavar="CONFIG",
        help=f"measure only these beside 'without' ({', '.join(CONFIGS[1:])}; default: all)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="also write callgrind profiles of n and 2n requests per configuration to "
        "DIR/callgrind.CONFIG.{n,2n}.out (callgrind_annotate; their difference is n requests)",
    )
    parser.add_argument("--dat", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.dat)
        return 0
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        print("bench/cost.py: valgrind is not installed (apt-get install valgrind); skipped")
        return 0
    names = {c: NAMES[c] for c in args.only}
    medians: dict[str, list[float]] = {c: [] for c in names}
    for run in range(1, args.runs + 1):
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="edgeward-cost-") as tmp:
            ir = one_run(args, Path(tmp))
        base = ir["without"]
        print(
            f"run {run}: instructions per request (callgrind, uvicorn, 2×{args.n} − {args.n} "
            f"requests, {args.rounds} rounds, {time.monotonic() - started:.0f} s): without "
            f"{statistics.median(base):,.0f} (spread {spread(base):.2f} %)"
        )
        for config, (name, target) in names.items():
            ratios = [w / c for w, c in zip(base, ir[config], strict=True)]
            medians[config].append(statistics.median(ratios))
            goal = f" (target >= {target})" if target else ""
            print(
                f"  requests per instruction with ÷ without {name}: "
                f"{statistics.median(ratios):.4f}{goal}  (rounds "
                f"{', '.join(f'{r:.4f}' for r in ratios)}; spread {spread(ratios):.2f} %; "
                f"{statistics.median(ir[config]) - statistics.median(base):+,.0f} instructions "
                f"per request)"
            )
    for config, (name, target) in names.items():
        got = medians[config]
        verdict = "" if target is None else ("  met" if min(got) >= target else "  NOT met")
        print(
            f"SUMMARY instructions: requests per instruction with ÷ without {name}: "
            f"{statistics.median(got):.4f}"
            + (f" (target >= {target}){verdict}" if target else "")
            + f"; {len(got)} run(s) {', '.join(f'{g:.4f}' for g in got)}, "
            f"run-to-run spread {spread(got):.2f} %"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
