"""``dpi-watch`` as a whole: any option value is accepted or refused naming it, the help,
an unknown flag, the events file made at start. Each subcommand's own behaviour (real
process, real datagrams or file) is in ``watch/test_cmd_syslog.py`` and ``test_cmd_tail.py``."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeward.cli import run as cli_run
from middleware.cli.dpi_watch import build_parser, prepare
from tests.support.dpi_watch import DPI_WATCH

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


def test_events_file_folder_is_made_at_start(tmp_path: Path) -> None:
    """`make run` points --events into a folder nothing made yet: dpi-watch makes it, as its
    event log would, instead of refusing to start."""
    from middleware.cli.dpi_watch import _check_events_file

    events = tmp_path / "not" / "yet" / "edge-events.jsonl"
    _check_events_file(str(events))
    assert events.parent.is_dir() and events.exists()
