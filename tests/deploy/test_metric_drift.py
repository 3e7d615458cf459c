"""The rules and the dashboard use only metric names the running services export.

Each service is started for real on free loopback ports and its ``/metrics`` read. Names
are taken from ``# TYPE`` lines: prometheus_client writes them for every declared metric,
also for labelled ones that have not seen a label set yet, so no traffic is needed to see
a name (one request still goes through the app, the cheapest proof that it serves).

A service that runs but lacks a name fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from edgeward import pki
from tests.support.net import free_port, wait_port
from tests.support.promql import RULES, used_names
from tests.support.services import BIN, exported, scrape, started


def test_exported_reads_type_lines() -> None:
    text = (
        "# HELP a_total x\n# TYPE a_total counter\n# TYPE h_seconds histogram\n"
        'h_seconds_bucket{le="1"} 0\n# TYPE g gauge\n'
    )
    assert exported(text) == {
        "a_total",
        "h_seconds",
        "h_seconds_bucket",
        "h_seconds_sum",
        "h_seconds_count",
        "g",
    }


def run_app(tmp: Path) -> str:
    from middleware.demo import prepare

    var = tmp / "var"
    prepare(var)
    port = free_port()
    argv = [str(BIN / "uvicorn"), "middleware.demo:app", "--port", str(port)]
    with started(argv, port, tmp / "app.log", {"EDGEWARD_VAR": str(var)}):
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 200
        return scrape(port)


def run_dpi_watch(tmp: Path) -> str:
    log = tmp / "access.log"
    log.write_bytes(
        b'203.0.113.7 - - [27/Nov/2026:03:00:00 +0000] "GET /a\\x80\\x01b HTTP/1.1" 400 150 '
        b'"-" "-"\n'
    )
    port = free_port()
    argv = [str(BIN / "dpi-watch"), "tail", str(log), "--metrics-listen", f"127.0.0.1:{port}"]
    with started(argv, port, tmp / "dpi-watch.log"):
        return scrape(port)


def run_caldav_gateway(tmp: Path) -> str:
    from caldav_gateway.demo import prepare

    var = tmp / "var"
    prepare(var)
    port, metrics = free_port(), free_port()
    argv = [
        str(BIN / "caldav-gateway"),
        "serve",
        "--config",
        str(var / "caldav" / "gateway.toml"),
        "--listen",
        f"127.0.0.1:{port}",
        "--metrics-listen",
        f"127.0.0.1:{metrics}",
    ]
    with started(argv, port, tmp / "caldav.log"):
        wait_port(metrics)
        return scrape(metrics)


def run_printer_sync(tmp: Path) -> str:
    password = tmp / "printer.password"
    password.write_text("drift-test-password\n")
    ca = pki.make_ca("drift test CA")
    pki.write_pair(pki.issue(ca, ["printer.test"]), tmp / "key.pem", tmp / "cert.pem", [ca])
    printer, metrics = free_port(), free_port()
    emulate = [
        str(BIN / "printer-sync"),
        "emulate",
        "--listen",
        f"127.0.0.1:{printer}",
        "--state-dir",
        str(tmp / "emulator"),
        "--password-file",
        str(password),
    ]
    config = tmp / "printers.toml"
    config.write_text(
        f'state_dir = "{tmp / "state"}"\nmetrics_listen = "127.0.0.1:{metrics}"\n\n'
        f'[[printer]]\nname = "drift"\nurl = "https://127.0.0.1:{printer}"\n'
        f'password_file = "{password}"\nkey = "{tmp / "key.pem"}"\ncert = "{tmp / "cert.pem"}"\n'
    )
    with (
        started(emulate, printer, tmp / "emulator.log"),
        started(
            [str(BIN / "printer-sync"), "watch", "--config", str(config)],
            metrics,
            tmp / "watch.log",
        ),
    ):
        return scrape(metrics)


@dataclass(frozen=True)
class Service:
    name: str
    run: Callable[[Path], str]
    owns: Callable[[str], bool]  # the used names this service must export


def _middleware(name: str) -> bool:
    return not name.startswith(("edgeward_caldav_", "edgeward_printer_"))


SERVICES = [
    Service("app (uvicorn middleware.demo:app)", run_app, _middleware),
    # The edge sensor sees nginx's log lines: no signed-URL checks there.
    Service(
        "dpi-watch tail",
        run_dpi_watch,
        lambda n: _middleware(n) and not n.startswith("edgeward_signed_url_"),
    ),
    Service("caldav-gateway serve", run_caldav_gateway, lambda n: n.startswith("edgeward_caldav_")),
    Service("printer-sync watch", run_printer_sync, lambda n: n.startswith("edgeward_printer_")),
]
USED = used_names()


def test_rules_and_dashboard_use_names_at_all() -> None:
    assert len(USED) >= 10
    for service in SERVICES:
        assert any(service.owns(n) for n in USED), service.name


def test_every_used_name_has_a_service() -> None:
    orphans = {n for n in USED if not any(s.owns(n) for s in SERVICES)}
    assert orphans == set()


@pytest.mark.slow
@pytest.mark.parametrize("service", SERVICES, ids=[s.name.split()[0] for s in SERVICES])
def test_service_exports_every_name_the_rules_and_dashboard_use(
    service: Service, tmp_path: Path
) -> None:
    expected = {n: USED[n] for n in USED if service.owns(n)}
    text = service.run(tmp_path)
    missing = {n: sorted(where) for n, where in expected.items() if n not in exported(text)}
    assert missing == {}, f"{service.name} does not export these names (used by: ...)"


def test_label_values_in_the_rules_exist_in_the_code() -> None:
    """Label values the rules match on are values the code writes (a renamed error kind
    would silently stop an alert)."""
    import typing

    from printer_sync.errors import ErrorKind
    from printer_sync.push import Outcome

    rules = RULES.read_text()
    results = {v for m in re.findall(r'result[!=]~"([^"]+)"', rules) for v in m.split("|")}
    known = {k.value for k in ErrorKind} | set(typing.get_args(Outcome))
    assert results and results <= known, results - known
    statuses = set(re.findall(r'status="(\d{3})"', rules))
    assert statuses == {"401"}
