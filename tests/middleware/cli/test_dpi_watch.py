"""``dpi-watch`` as a user runs it: a real process, real UDP datagrams, its ``/metrics``."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeward.cli import run as cli_run
from middleware.cli.dpi_watch import build_parser, prepare
from tests.support.net import free_port
from tests.support.servers import process
from tests.support.services import sample, scrape

DPI_WATCH = [sys.executable, "-m", "middleware", "dpi-watch"]
GOOD = (
    b'{"msec":1795750515.5,"remote_addr":"203.0.113.7","request":"GET /a\\u0001b HTTP/1.1",'
    b'"status":"400"}'
)
HUGE_STATUS = GOOD.replace(b'"400"', b'"' + b"9" * 5000 + b'"')
INFINITE_TIME = GOOD.replace(b"1795750515.5", b'"1e400"')
FRAME = b"<190>Nov 27 03:35:15 vm nginx: "


@contextmanager
def dpi_watch(tmp: Path, *args: str) -> Iterator[int]:
    """Run ``dpi-watch ARGS`` with /metrics on a free port until its input is open; yields
    that port."""
    port = free_port()
    argv = [*DPI_WATCH, *args, "--metrics-listen", f"127.0.0.1:{port}"]
    log = tmp / "dpi-watch.log"
    with process(argv, port=port, log=log, cwd=tmp, timeout=60) as proc:
        ready = "receiving nginx syslog" if args[0] == "syslog" else "following"
        deadline = time.monotonic() + 60
        while ready not in log.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield port
        assert proc.poll() is None, "dpi-watch exited"


def wait_for(port: int, done: Callable[[str], bool], within: float = 60.0) -> str:
    deadline = time.monotonic() + within
    while True:
        text = scrape(port)
        if done(text):
            return text
        assert time.monotonic() < deadline, text[-3000:]
        time.sleep(0.1)


def lines(text: str, result: str) -> float:
    return sample(text, "edgeward_edge_log_lines_total", result=result)


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


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["tail", "x.log", "--interval", "0"], "--interval"),
        (["tail", "x.log", "--interval", "-1"], "--interval"),
        (["tail", "x.log", "--interval", "nan"], "--interval"),
        (["tail", "x.log", "--interval", "inf"], "--interval"),
        (["syslog", "--allow-from", "everyone"], "--allow-from"),
        (["syslog", "--listen", "example.org:5140"], "--listen"),
    ],
)
def test_bad_options_exit_2_naming_the_option(args: list[str], says: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [*DPI_WATCH, *args, "--metrics-listen", ""],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr


def test_a_taken_syslog_port_is_named_and_exits_1(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        proc = subprocess.run(
            [*DPI_WATCH, "syslog", "--listen", address, "--metrics-listen", ""],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
    assert proc.returncode == 1
    assert address in proc.stderr and "Traceback" not in proc.stderr


# --- property: arbitrary values for every option (checked in-process, nothing started) ------

_VALUES = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e400", "9" * 30, "9" * 5000, "", "off"]),
    st.integers().map(str),
    st.floats().map(str),
    st.binary(min_size=1, max_size=12).map(os.fsdecode),  # non-UTF-8 bytes, as argv has them
    st.sampled_from(["{dir}", "{unreadable}", "{binary}", "{missing}"]),
)
_OPTIONS = {
    "tail": ["--interval", "--asn-table", "--events", "--events-per-second", "--events-max-mb",
             "--events-keep", "--whois-dns", "--whois-per-minute", "--top-n", "--trusted-proxy",
             "--nginx-format", "--metrics-listen", "--log-level", "--log-format", "FILE"],
    "syslog": ["--listen", "--allow-from", "--asn-table", "--top-n", "--trusted-proxy"],
}  # fmt: skip


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("dpi-watch-props")
    (tmp / "d").mkdir()
    (tmp / "unreadable").write_text("1.0.0.0/8 1\n")
    (tmp / "unreadable").chmod(0)
    (tmp / "binary").write_bytes(b"\xff\xfe\x00\x80\n" * 3)
    names = ("d", "unreadable", "binary", "missing")
    return {"tmp": str(tmp)} | {("dir" if n == "d" else n): str(tmp / n) for n in names}


def _check(args: argparse.Namespace) -> int:
    prepare(args).close()
    return 0


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_option_value_is_accepted_or_exit_2_naming_it(
    data: st.DataObject, paths: dict[str, str]
) -> None:
    command = data.draw(st.sampled_from(sorted(_OPTIONS)))
    option = data.draw(st.sampled_from(_OPTIONS[command]))
    value = data.draw(_VALUES)
    value = paths[value[1:-1]] if value[:1] == "{" and value[1:-1] in paths else value
    if option == "--events" and not value.startswith(paths["tmp"]):
        value = os.path.join(paths["dir"], value.replace("/", "_").replace("\x00", "_"))[:200]
    argv = [command, "--metrics-listen", "off"]
    argv += (
        ([value] if option == "FILE" else ["x.log", option, value])
        if command == "tail"
        else [option, value]
    )
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli_run(_check, build_parser().parse_args(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
    root = logging.getLogger()
    root.handlers[:] = []
    text = err.getvalue()
    assert "Traceback" not in text
    if code == 2:
        shown = "FILE" if option == "FILE" else option
        also = "--whois" if option == "--whois-dns" else shown
        assert shown in text or also in text, (argv, text)
    else:
        assert code == 0, (argv, text)


def test_help_is_consistent() -> None:
    texts = []
    for argv in (["--help"], ["tail", "--help"], ["syslog", "--help"]):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            build_parser().parse_args(argv)
        texts.append(out.getvalue())
    assert "examples:" in texts[0] and "exit codes:" in texts[0]
    for text in texts:
        assert "(default: None)" not in text
        for chunk in " ".join(text.split()).split(" --")[1:]:
            assert chunk.count("default") <= 1, chunk
    found = (m for t in texts for m in re.findall(r"--[a-z-]+ ([A-Z][A-Z:\[\]_]*)", t))
    # in the usage line a metavar is followed by the "]" that closes the optional part
    metavars = {m[:-1] if m.count("]") > m.count("[") else m for m in found}
    assert metavars <= {"FILE", "HOST:PORT", "HOST[:PORT]", "SECONDS", "N", "MB", "CIDR"}


def test_an_unknown_flag_is_named_as_unknown() -> None:
    proc = subprocess.run(
        [*DPI_WATCH, "tail", "--bogus"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "unknown option '--bogus'" in proc.stderr


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


def test_events_file_folder_is_made_at_start(tmp_path: Path) -> None:
    """`make run` points --events into a folder nothing made yet: dpi-watch makes it, as its
    event log would, instead of refusing to start."""
    from middleware.cli.dpi_watch import _check_events_file

    events = tmp_path / "not" / "yet" / "edge-events.jsonl"
    _check_events_file(str(events))
    assert events.parent.is_dir() and events.exists()
