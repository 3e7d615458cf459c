"""What every benchmark here shares: timing, child servers, the HTTP load generator.

The machines are shared and noisy, so each benchmark compares against a peer or a
baseline measured *in the same run*, interleaved, and keeps the best round (noise only
ever adds time). Load comes from ``wrk`` when installed (one thread, keep-alive
connections), else from an asyncio loop of keep-alive connections; either way the same
generator drives both sides of a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send


class PassThrough:
    """The control: an ASGI layer that does nothing but call the app. What it costs is
    what any middleware costs, and how far its ratio strays from 1 is the run's noise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def bench_parser(description: str, serve: Sequence[str]) -> argparse.ArgumentParser:
    """A benchmark's parser with the hidden ``--serve CONFIG --port N`` its own child
    server processes are started with."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", choices=serve, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser


def best_per_call(
    funcs: Mapping[str, Callable[[], object]], number: int, rounds: int
) -> dict[str, float]:
    """Seconds per call, the minimum over ``rounds`` interleaved rounds."""
    best = dict.fromkeys(funcs, float("inf"))
    for _ in range(rounds):
        for name, func in funcs.items():
            best[name] = min(best[name], timeit.timeit(func, number=number) / number)
    return best


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def child_server(argv: list[str], port: int, what: str, timeout: float = 60) -> Iterator[int]:
    """Run ``argv`` (a server on 127.0.0.1:``port``) until the block ends; yields its pid."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{what} did not start")
            time.sleep(0.05)
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(
    port: int, target: str, seconds: float, conns: int, headers: Mapping[str, str]
) -> tuple[float, int]:
    header_args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{conns}",
            f"-d{seconds}s",
            *header_args,
            f"http://127.0.0.1:{port}{target}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not rps or not total:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    return float(rps.group(1)), int(total.group(1))


async def _loop(
    port: int, target: str, seconds: float, conns: int, headers: Mapping[str, str]
) -> tuple[float, int]:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {target} HTTP/1.1\r\nHost: bench\r\n{extra}\r\n".encode()
    done = 0
    stop = time.monotonic() + seconds

    async def one() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < stop:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            match = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
            await reader.readexactly(int(match.group(1)) if match else 0)
            done += 1
        writer.close()

    start = time.monotonic()
    await asyncio.gather(*(one() for _ in range(conns)))
    return done / (time.monotonic() - start), done


def load(
    port: int,
    target: str,
    seconds: float,
    conns: int,
    headers: Mapping[str, str] | None = None,
) -> tuple[float, int]:
    """(requests/s, requests) of one run of ``GET target`` at ``conns`` connections."""
    if shutil.which("wrk"):
        return _wrk(port, target, seconds, conns, headers or {})
    return asyncio.run(_loop(port, target, seconds, conns, headers or {}))


def summary(log: str) -> list[str]:
    """The figure lines of a ``make bench`` log, one per figure: a bench's ``SUMMARY``
    lines when it prints any, else its ratio lines (those holding "÷"). Each bench's
    output starts with ``== bench/NAME.py``."""
    out: list[str] = []
    bench, lines = "", []
    for line in [*log.splitlines(), "== "]:
        if line.startswith("== "):
            marked = [x.removeprefix("SUMMARY ") for x in lines if x.startswith("SUMMARY ")]
            ratios = [x.strip() for x in lines if "÷" in x]
            out += [f"{bench}: {x}" for x in marked or ratios]
            bench, lines = line[3:].strip(), []
        else:
            lines.append(line)
    return out


if __name__ == "__main__":
    # make bench: python bench/harness.py summary LOG
    if sys.argv[1:2] != ["summary"] or len(sys.argv) != 3:
        sys.exit("usage: python bench/harness.py summary LOG")
    print("\n".join(summary(Path(sys.argv[2]).read_text(encoding="utf-8"))))
