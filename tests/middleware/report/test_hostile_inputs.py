"""Issue 11 item 13: hostile inputs give a counted malformed line or exit 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from middleware.cli.dpi_report import main

DPI_REPORT = [sys.executable, "-m", "middleware", "dpi-report"]
GOOD = {"time": 1795740000.5, "source": "edge", "kind": "dpi_signature", "client": "8.8.8.8",
        "asn": 15169, "as_name": "GOOGLE", "evidence_hex": "8001", "offset": 5}  # fmt: skip
LOG = b'8.8.8.8 - - [27/Nov/2026:00:40:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'


def run(*args: str | Path, code: int) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*DPI_REPORT, *map(str, args)], capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == code, proc.stderr
    return proc


def good() -> bytes:
    return json.dumps(GOOD).encode() + b"\n"


def ev(fields: bytes) -> bytes:
    """An event line whose first fields are written raw (what json.dumps cannot write)."""
    return b"{" + fields + b', "source": "edge", "kind": "k", "client": "1.2.3.4"}\n'


def jl(fields: bytes) -> bytes:
    """An edgeward_json log line with raw fields."""
    return b'{"remote_addr": "8.8.8.8", "request": "GET / HTTP/1.1", ' + fields + b"}\n"


DIGITS = b"9" * 5000


@pytest.mark.parametrize(
    "bad",
    [
        b"[" * 200_000 + b"\n",
        ev(b'"time": "inf"'),
        ev(b'"time": NaN'),
        ev(b'"time": 1e300'),
        ev(b'"time": -1'),
        ev(b'"time": 1e9, "offset": 1e400'),
        ev(b'"time": 1e9, "offset": ' + DIGITS),
        ev(b'"time": 1e9, "asn": ' + DIGITS),
        ev(b'"time": 1e9, "as_name": "\\udcff", "detail": "\\ud800"'),
    ],
)
@pytest.mark.parametrize("where", ["first", "later"])
@pytest.mark.parametrize("output", ["text", "--json", "--html"])
def test_a_hostile_event_line_is_counted_as_malformed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: bytes, where: str, output: str
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(good() + bad if where == "later" else bad + good())
    log = tmp_path / "access.log"
    log.write_bytes(LOG)
    args: list[str] = [] if output == "text" else [output]
    if output == "--html":
        args.append(str(tmp_path / "r.html"))
    assert main([*args, "--no-progress", str(events), str(log)]) == 0  # in-process: fast
    out = capsys.readouterr().out
    if output == "--json":
        doc = json.loads(out)
        events_in = next(i for i in doc["inputs"] if i["path"] == str(events))
        assert events_in["lines"] == 2
        # Lone surrogates are kept (replaced): a real event with an odd name. The rest are
        # malformed; 2 if the junk first line hid the file's kind.
        assert events_in["malformed"] in ((0,) if b"udcff" in bad else (1, 2))


@pytest.mark.parametrize(
    "line",
    [
        jl(b'"status": "' + DIGITS + b'", "msec": "1795740000.1"'),
        jl(b'"status": ' + DIGITS + b', "msec": "1795740000.1"'),
        jl(b'"status": 200, "msec": "1e400"'),
        jl(b'"status": 200, "msec": "nan"'),
        jl(b'"status": 200, "msec": 1e300'),
        b'8.8.8.8 - - [27/Nov/2026:00:40:00 +0000] "GET / HTTP/1.1" ' + DIGITS + b' 1 "-" "-"\n',
    ],
)
def test_a_hostile_log_line_is_counted_as_malformed(tmp_path: Path, line: bytes) -> None:
    ok = jl(b'"status": 200, "msec": "1795740000.1"') if line.startswith(b"{") else LOG
    log = tmp_path / "access.log"
    log.write_bytes(ok + line + ok)
    doc = json.loads(run("--json", log, code=0).stdout)
    # A combined line of the right shape counts as the request nginx logged, whatever its
    # status (the block scan does not parse every line); a JSON line is parsed: malformed.
    malformed = 1 if line.startswith(b"{") else 0
    assert doc["inputs"][0]["lines"] == 3 and doc["inputs"][0]["malformed"] == malformed
    run("--html", tmp_path / "r.html", log, code=0)


@pytest.mark.parametrize(
    ("option", "value"),
    [("--keys", "DIR"), ("--asn-table", "DIR"), ("--html", "DIR"), ("--keys", "/dev/null")],
)
def test_a_directory_or_odd_file_for_an_option_is_exit_2_naming_it(
    tmp_path: Path, option: str, value: str
) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(LOG)
    proc = run(option, tmp_path if value == "DIR" else value, log, code=2)
    assert proc.stderr.count("\n") == 1 and option in proc.stderr
