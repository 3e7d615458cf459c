"""``dpi-watch tail``: a real process following a real file, its ``/metrics``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pytest

from middleware.cli.dpi_watch import build_parser, run_daemon
from middleware.cli.watch import cmd_tail
from tests.support.dpi_watch import (
    GOOD,
    HUGE_STATUS,
    INFINITE_TIME,
    dpi_watch,
    lines,
    run_dpi_watch,
    wait_for,
)
from tests.support.services import sample, scrape


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["tail", *argv])


@pytest.mark.parametrize(
    ("argv", "files", "from_start", "interval"),
    [
        (["a.log"], ["a.log"], False, 0.25),  # only new lines by default, as tail -F
        (["a.log", "b.log", "--from-start"], ["a.log", "b.log"], True, 0.25),
        (["a.log", "--interval", "2"], ["a.log"], False, 2.0),
    ],
)
def test_tail_options(argv: list[str], files: list[str], from_start: bool, interval: float) -> None:
    args = _parse(*argv)
    assert (args.files, args.from_start, args.interval) == (files, from_start, interval)
    assert args.func is run_daemon and cmd_tail.run is run_daemon
    assert args.nginx_format == "combined"  # the shared options are there


def test_tail_needs_a_file() -> None:
    with pytest.raises(SystemExit) as exc:
        _parse()
    assert exc.value.code == 2


def test_tail_survives_poison_lines(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    args = ["tail", str(log), "--nginx-format", "json", "--interval", "0.05"]
    with dpi_watch(tmp_path, *args) as port:
        scrape(port)
        with log.open("ab") as f:
            f.write(HUGE_STATUS + b"\n" + INFINITE_TIME + b"\n" + GOOD + b"\n")
        text = wait_for(port, lambda t: lines(t, "parsed") >= 1)
        assert lines(text, "malformed") == 2
        with log.open("ab") as f:
            f.write(GOOD + b"\n")
        wait_for(port, lambda t: lines(t, "parsed") >= 2)


def test_the_last_line_age_grows_while_nothing_arrives(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    with dpi_watch(tmp_path, "tail", str(log), "--interval", "0.05") as port:
        first = sample(scrape(port), "edgeward_edge_last_line_age_seconds")
        text = wait_for(port, lambda t: sample(t, "edgeward_edge_last_line_age_seconds") > first)
        assert "# TYPE edgeward_edge_last_line_age_seconds gauge" in text
        with log.open("ab") as f:
            f.write(b'1.2.3.4 - - [27/Nov/2026:03:35:15 +0000] "GET / HTTP/1.1" 200 3 "-" "-"\n')
        wait_for(port, lambda t: lines(t, "parsed") >= 1)
        assert sample(scrape(port), "edgeward_edge_last_line_age_seconds") < 30


def test_a_log_in_another_format_is_named(tmp_path: Path) -> None:
    """The issue's case: the user wrote --log-format json (the logging flag) for a JSON
    log; dpi-watch read it as combined, counted nothing, and said nothing."""
    log = tmp_path / "access.log"
    log.write_bytes((GOOD + b"\n") * 6)
    args = ["tail", str(log), "--from-start", "--log-format", "json", "--interval", "0.05"]
    with dpi_watch(tmp_path, *args) as port:
        wait_for(port, lambda t: lines(t, "malformed") >= 6)
        out = tmp_path / "dpi-watch.log"
        deadline = time.monotonic() + 60
        while "they look like --nginx-format json" not in out.read_text():
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.05)
    assert "malformed for --nginx-format combined" in out.read_text()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["tail", "x.log", "--interval", "0"], "--interval"),
        (["tail", "x.log", "--interval", "-1"], "--interval"),
        (["tail", "x.log", "--interval", "nan"], "--interval"),
        (["tail", "x.log", "--interval", "inf"], "--interval"),
    ],
)
def test_bad_options_exit_2_naming_the_option(args: list[str], says: str, tmp_path: Path) -> None:
    proc = run_dpi_watch(args, tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr
