"""python-caldav's own functional tests, pointed at the gateway and at Radicale direct.

``tests/test_caldav.py`` of the installed caldav release (from its sdist on PyPI, run from
a cache, never copied here) runs twice as an "external" test server: once through the
gateway over TLS, once against ``python -m radicale`` serving the same htpasswd, settings
and certificate. The suite needs ``pytest<9`` and ``pytest-asyncio<1.2``, so it runs in a
separate cached virtual environment and our own pytest stays. Every test must end the same
way on both servers: a test that passes on Radicale and fails through the gateway is a
gateway bug.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import thirdparty
from tests.support.gateway import direct_radicale, running_gateway

pytestmark = pytest.mark.slow

# The suite's runtime requirements (its "test" extra, minus the embedded servers it would
# start itself and the coverage/doc tools it does not need here).
SUITE_REQUIREMENTS = (
    "pytest<9",
    "pytest-asyncio<1.2",
    "vobject",
    "manuel",
    "proxy.py",
    "tzlocal",
    "pyfakefs",
    "httpx",
    "httpxyz",
    "pyyaml",
)


@dataclass
class Suite:
    """One run of test_caldav.py against one server."""

    process: subprocess.Popen[bytes]
    report: Path
    log: Path

    def outcomes(self) -> dict[str, str]:
        """Test id → passed | failed | skipped, once the run has ended."""
        self.process.wait(timeout=900)
        if not self.report.exists():
            raise AssertionError(f"the suite did not run:\n{self.log.read_text()[-4000:]}")
        outcomes: dict[str, str] = {}
        for case in ET.parse(self.report).iter("testcase"):  # noqa: S314  # pytest wrote it
            kinds = {child.tag for child in case}
            outcomes[f"{case.get('classname')}::{case.get('name')}"] = (
                "failed"
                if kinds & {"failure", "error"}
                else "skipped"
                if "skipped" in kinds
                else "passed"
            )
        return outcomes


def start_suite(
    python: Path, source: Path, tmp: Path, url: str, user: str, password: str, ca: Path
) -> Suite:
    """Start test_caldav.py against ``url`` (an "external" server of the suite's own config)."""
    tree = tmp / "caldav-src"
    shutil.copytree(source, tree)
    # JSON is YAML: the loader reads either; the file holds a throwaway test password.
    config = {
        "test-servers": {
            "edgeward": {
                "type": "external",
                "enabled": True,
                "url": url,
                "username": user,
                "password": password,
                "ssl_verify_cert": str(ca),
                "features": "radicale",
            }
        }
    }
    (tree / "tests" / "caldav_test_servers.json").write_text(json.dumps(config))
    (tmp / "tmp").mkdir()
    env = {
        **os.environ,
        "PYTHON_CALDAV_TEST_EMBEDDED": "0",
        "PYTHON_CALDAV_TEST_DOCKER": "0",
        "TMPDIR": str(tmp / "tmp"),  # its per-server lock files: private to this run
        "HOME": str(tmp),  # no ~/.config/caldav of the person running the tests
        # Tests that build their client from a config file or the environment pass no CA:
        # they find the test CA where OpenSSL and niquests look by default.
        "SSL_CERT_FILE": str(ca),
        "REQUESTS_CA_BUNDLE": str(ca),
    }
    env.pop("PYTHONPATH", None)
    report, log = tmp / "junit.xml", tmp / "suite.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                str(python),
                "-m",
                "pytest",
                "tests/test_caldav.py",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--junitxml={report}",
                # proxy.py on a fixed port, and only for plain-HTTP servers: it skips for
                # both TLS servers, and two runs at once would collide on that port.
                "--deselect",
                "tests/test_caldav.py::TestProxy",
            ],
            cwd=tree,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Suite(process, report, log)


@pytest.mark.timeout(1200)
def test_python_caldav_suite_passes_through_the_gateway_as_direct(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    version = thirdparty.installed_version("caldav")
    source = thirdparty.sdist("caldav", version)
    python = thirdparty.venv("caldav-suite", (f"caldav=={version}", *SUITE_REQUIREMENTS))
    tmp = tmp_path_factory.mktemp("caldav-suite")
    with running_gateway(tmp / "gateway", users=("alice",)) as gw:
        (tmp / "direct").mkdir()
        with direct_radicale(
            tmp / "direct", gw.cert, gw.key, gw.htpasswd, collections=tmp / "direct" / "c"
        ) as port:
            # Both at once (each mostly waits on the network): half the wall time.
            suites = {
                name: start_suite(
                    python, source, tmp / name, url, "alice", gw.users["alice"], gw.ca
                )
                for name, url in (
                    ("gateway", gw.url + "/"),
                    ("direct", f"https://127.0.0.1:{port}/"),
                )
            }
            try:
                via_gateway, direct = (suites[n].outcomes() for n in ("gateway", "direct"))
            finally:
                for suite in suites.values():
                    if suite.process.poll() is None:
                        suite.process.kill()
                        suite.process.wait()
    counts = {o: sum(1 for v in direct.values() if v == o) for o in ("passed", "failed", "skipped")}
    print(f"python-caldav {version} test_caldav.py, direct and through the gateway: {counts}")
    assert counts["passed"] >= 40, direct  # the suite really ran against a server
    differ = {
        t: (direct.get(t), via_gateway.get(t))
        for t in direct.keys() | via_gateway.keys()
        if direct.get(t) != via_gateway.get(t)
    }
    assert differ == {}
