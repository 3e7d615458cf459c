"""``caldav-server-tester``: the gateway changes no CalDAV feature of the Radicale it serves.

The same tester run (``--format json``, offline, ~6 s each) goes against the real gateway
and against ``python -m radicale`` serving the same certificate, the same htpasswd file
and the settings the gateway gives its embedded Radicale (``direct_radicale``), each with
its own empty collections. The two feature profiles must be identical: the probe policy
only answers paths outside ``/`` and the users' own collections, which the tester never
uses. Both runs go over TLS and trust the test CA.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway import Gateway, direct_radicale

# Features whose difference is intended, with the reason; empty: none is.
INTENTIONAL: dict[str, str] = {}


def start_tester(
    url: str, user: str, password: str, ca: Path, out: Path
) -> subprocess.Popen[bytes]:
    # A dev dependency (pyproject), so it sits beside this interpreter, PATH or not.
    beside = Path(sys.executable).with_name("caldav-server-tester")
    tool = str(beside) if beside.exists() else shutil.which("caldav-server-tester")
    assert tool, "caldav-server-tester missing: pip install -e '.[dev]'"
    # The connection goes in CALDAV_* variables rather than --caldav-url/-username/-password:
    # only that way does ``ssl_verify_cert`` (the test CA) reach the tester's own
    # unauthenticated probe, which ignores REQUESTS_CA_BUNDLE (trust_env=False) — and the
    # password stays off the command line.
    argv = [tool, "--format", "json"]
    env = {
        **os.environ,
        "CALDAV_URL": url,
        "CALDAV_USERNAME": user,
        "CALDAV_PASSWORD": password,
        "CALDAV_SSL_VERIFY_CERT": str(ca),
    }
    return subprocess.Popen(
        argv, stdout=out.open("wb"), stderr=subprocess.PIPE, env=env, start_new_session=True
    )


def features(proc: subprocess.Popen[bytes], out: Path) -> dict[str, Any]:
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    doc = json.loads(out.read_text())
    result: dict[str, Any] = doc["features"]
    return result


@pytest.mark.slow
def test_same_feature_profile_through_the_gateway_as_direct(
    gateway: Gateway, tmp_path: Path
) -> None:
    password = gateway.users["alice"]
    with direct_radicale(
        tmp_path, gateway.cert, gateway.key, gateway.htpasswd, collections=tmp_path / "direct"
    ) as port:
        # The two runs are independent (separate servers and collections): run them at once.
        runs = {
            "gateway": (gateway.url + "/", tmp_path / "gateway.json"),
            "direct": (f"https://127.0.0.1:{port}/", tmp_path / "direct.json"),
        }
        procs = {
            name: start_tester(url, "alice", password, gateway.ca, out)
            for name, (url, out) in runs.items()
        }
        profiles = {name: features(p, runs[name][1]) for name, p in procs.items()}

    via_gateway, direct = profiles["gateway"], profiles["direct"]
    # A real profile, not an empty document that would compare equal to anything.
    assert len(direct) >= 10
    assert direct["synchronous-write"]["support"] == "full"
    assert direct["auth.www-authenticate"] == {
        "support": "full",
        "behaviour": 'offers Basic realm="CalDAV"',
    }
    differences = {
        key: (via_gateway.get(key), direct.get(key))
        for key in sorted(via_gateway.keys() | direct.keys())
        if via_gateway.get(key) != direct.get(key) and key not in INTENTIONAL
    }
    assert differences == {}
