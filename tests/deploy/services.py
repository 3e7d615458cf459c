"""Run the suite's services as child processes and read their /metrics."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import httpx

from tests.support.net import wait_port

BIN: Final = Path(sys.executable).parent
NOT_BUILT: Final = 3  # edgeward.cli's exit code for a command whose issue has not landed
_TYPE: Final = re.compile(r"^# TYPE (\S+) (\w+)$", re.M)
_SUFFIXES: Final = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
_SAMPLE: Final = re.compile(r"^([A-Za-z_:][\w:]*)(\{[^}]*\})? (\S+)$", re.M)


class NotBuilt(Exception):
    pass


def exported(exposition: str) -> set[str]:
    """Every sample name the exposition can carry, from its ``# TYPE`` lines."""
    names = set()
    for name, kind in _TYPE.findall(exposition):
        names.add(name)
        names.update(name + suffix for suffix in _SUFFIXES.get(kind, ()))
    return names


@contextlib.contextmanager
def started(
    argv: list[str], port: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[None]:
    """Run ``argv`` until ``port`` listens; :class:`NotBuilt` if it exits with 3."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                code = proc.poll()
                if code == NOT_BUILT:
                    raise NotBuilt(log.read_text(errors="replace").strip()[-300:])
                if code is not None:
                    raise RuntimeError(f"{argv[0]} exited {code}: {log.read_text()[-2000:]}")
                try:
                    wait_port(port, timeout=0.3)
                    break
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise
            yield
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)


def scrape(port: int) -> str:
    deadline = time.monotonic() + 20
    while True:
        r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30, follow_redirects=True)
        if r.status_code == 200 and "# TYPE" in r.text:
            return r.text
        if time.monotonic() > deadline:
            raise AssertionError(f"no metrics on {port}: {r.status_code} {r.text[:200]}")
        time.sleep(0.2)


def sample(exposition: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0.0 if none)."""
    total = 0.0
    for sample_name, label_text, value in _SAMPLE.findall(exposition):
        if sample_name != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', label_text or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total
