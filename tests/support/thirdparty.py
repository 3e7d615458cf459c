"""Other projects' released sources and tools, fetched at test time into a cache.

Their test suites are *run* against our servers, never copied into the repository. A
source distribution comes from PyPI's JSON API (the sha256 PyPI publishes is checked)
and is unpacked under ``~/.cache/edgeward/sdists``; a tool whose dependencies must not
mix with ours (python-caldav's suite needs ``pytest<9``) gets its own virtual
environment under ``~/.cache/edgeward/venvs``, built once per requirement set.

The download runs in a child process: it is a package fetch like ``pip install``, not
traffic of the test, so the in-process loopback guard stays in force for the test itself.
Locally an unavailable download skips; with ``CI=true`` it fails, as a missing tool does.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path

import pytest

from tests.support.tools import in_ci

_FETCH = """
import hashlib, json, sys, urllib.parse, urllib.request
project, version, dest = sys.argv[1:]
api = f"https://pypi.org/pypi/{project}/json"
with urllib.request.urlopen(api, timeout=60) as r:
    releases = json.load(r)["releases"]
files = [f for f in releases.get(version, []) if f["packagetype"] == "sdist"]
if not files:
    sys.exit(f"PyPI has no sdist of {project} {version}")
url = urllib.parse.urljoin(api, files[0]["url"])
with urllib.request.urlopen(url, timeout=120) as r:
    data = r.read()
if hashlib.sha256(data).hexdigest() != files[0]["digests"]["sha256"]:
    sys.exit(f"{url}: sha256 differs from the one PyPI publishes")
open(dest, "wb").write(data)
"""


def cache_dir(kind: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "edgeward" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def unavailable(message: str) -> None:
    """Skip locally; fail under CI, where every download must work."""
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder at a time for ``path`` (parallel test runs share the cache)."""
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def installed_version(project: str) -> str:
    return metadata.version(project)


def sdist(project: str, version: str) -> Path:
    """The unpacked source distribution ``project==version`` (its top folder)."""
    root = cache_dir("sdists")
    target = root / f"{project}-{version}"
    with _locked(target):
        if not (target / ".complete").exists():
            archive = root / f"{project}-{version}.tar.gz"
            if not archive.exists():
                fetched = subprocess.run(
                    [sys.executable, "-c", _FETCH, project, version, str(archive) + ".part"],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                if fetched.returncode != 0:
                    unavailable(
                        f"cannot download the sdist of {project} {version}: "
                        f"{fetched.stderr.strip()[-500:]}"
                    )
                os.replace(str(archive) + ".part", archive)
            with tarfile.open(archive) as tar:
                tar.extractall(target, filter="data")
            (target / ".complete").touch()
    tops = [p for p in target.iterdir() if p.is_dir()]
    assert len(tops) == 1, tops
    return tops[0]


def venv(name: str, requirements: Sequence[str]) -> Path:
    """The Python of a cached virtual environment with ``requirements`` installed."""
    digest = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:12]
    target = cache_dir("venvs") / f"{name}-{digest}"
    python = target / "bin" / "python"
    with _locked(target):
        if not (target / ".complete").exists():
            steps = [
                [sys.executable, "-m", "venv", "--clear", str(target)],
                [str(python), "-m", "pip", "install", "-q", *requirements],
            ]
            for step in steps:
                done = subprocess.run(step, capture_output=True, text=True, timeout=900)
                if done.returncode != 0:
                    unavailable(f"cannot build the {name} environment: {done.stderr[-800:]}")
            (target / ".complete").touch()
    return python
