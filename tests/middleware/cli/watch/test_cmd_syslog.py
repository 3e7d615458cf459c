"""``dpi-watch syslog``: a real process receiving real UDP datagrams, its ``/metrics``."""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path

import pytest

from middleware.cli.dpi_watch import build_parser, run_daemon
from middleware.cli.watch import cmd_syslog
from tests.support.dpi_watch import (
    FRAME,
    GOOD,
    HUGE_STATUS,
    INFINITE_TIME,
    dpi_watch,
    lines,
    run_dpi_watch,
    wait_for,
)
from tests.support.net import free_port
from tests.support.services import sample


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["syslog", *argv])


@pytest.mark.parametrize(
    ("argv", "listen", "allow_from"),
    [
        ([], "127.0.0.1:5140", None),  # None: loopback only, decided by the daemon
        (["--listen", "[::1]:514"], "[::1]:514", None),
        (
            ["--allow-from", "10.0.0.5", "--allow-from", "10.1.0.0/16"],
            "127.0.0.1:5140",
            ["10.0.0.5", "10.1.0.0/16"],
        ),
    ],
)
def test_syslog_options(argv: list[str], listen: str, allow_from: list[str] | None) -> None:
    args = _parse(*argv)
    assert (args.listen, args.allow_from) == (listen, allow_from)
    assert args.func is run_daemon and cmd_syslog.run is run_daemon
    assert args.asn_table is None  # the shared options are there


def test_syslog_survives_poison_datagrams_and_counts_them(tmp_path: Path) -> None:
    udp = free_port(kind=socket.SOCK_DGRAM)
    events = tmp_path / "events.jsonl"
    args = ["syslog", "--listen", f"127.0.0.1:{udp}", "--nginx-format", "json"]
    with dpi_watch(tmp_path, *args, "--events", str(events)) as port:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for line in (HUGE_STATUS, INFINITE_TIME, GOOD):
                s.sendto(FRAME + line, ("127.0.0.1", udp))
        text = wait_for(port, lambda t: lines(t, "parsed") >= 1)
        assert lines(text, "malformed") == 2
        # still ingesting after the poison: one more good line is read
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(FRAME + GOOD, ("127.0.0.1", udp))
        wait_for(port, lambda t: lines(t, "parsed") >= 2)
        wait_for(port, lambda t: events.exists() and events.read_text().count("\n") >= 2)
    for row in events.read_text().splitlines():
        assert json.loads(row, parse_constant=_refuse)["time"] == 1795750515.5


def _refuse(name: str) -> object:
    raise AssertionError(f"{name} in the events file")


def test_datagrams_from_other_senders_are_refused_and_counted(tmp_path: Path) -> None:
    udp = free_port(kind=socket.SOCK_DGRAM)
    args = ["syslog", "--listen", f"127.0.0.1:{udp}", "--nginx-format", "json"]
    with dpi_watch(tmp_path, *args, "--allow-from", "127.0.0.2") as port:
        for source in ("127.0.0.1", "127.0.0.2"):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((source, 0))
                s.sendto(FRAME + GOOD, ("127.0.0.1", udp))
        text = wait_for(port, lambda t: sample(t, "edgeward_edge_syslog_refused_total") >= 1)
        text = wait_for(port, lambda t: lines(t, "parsed") >= 1)
        assert sample(text, "edgeward_edge_syslog_refused_total") == 1
    assert "127.0.0.1: not an allowed sender" in (tmp_path / "dpi-watch.log").read_text()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["syslog", "--allow-from", "everyone"], "--allow-from"),
        (["syslog", "--listen", "example.org:5140"], "--listen"),
    ],
)
def test_bad_options_exit_2_naming_the_option(args: list[str], says: str, tmp_path: Path) -> None:
    proc = run_dpi_watch(args, tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr


def test_a_taken_syslog_port_is_named_and_exits_1(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        proc = run_dpi_watch(["syslog", "--listen", address], tmp_path)
    assert proc.returncode == 1
    assert address in proc.stderr and "Traceback" not in proc.stderr
