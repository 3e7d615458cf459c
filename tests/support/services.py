"""Run the suite's services as child processes and read their /metrics."""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import httpx

from tests.support.servers import process

BIN: Final = Path(sys.executable).parent
_TYPE: Final = re.compile(r"^# TYPE (\S+) (\w+)$", re.M)
_SUFFIXES: Final = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
_SAMPLE: Final = re.compile(r"^([A-Za-z_:][\w:]*)(\{[^}]*\})? (\S+)$", re.M)


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
    """Run ``argv`` until ``port`` listens, then stop it; its output goes to ``log``."""
    with process(argv, port=port, log=log, env=env, timeout=60):
        yield


def scrape(port: int) -> str:
    deadline = time.monotonic() + 60  # generous: a loaded machine is slow
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
