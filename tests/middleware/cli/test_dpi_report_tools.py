"""``dpi-report demo-log`` and ``fetch-table`` parsed and run in-process: what they write
and print, and every refusal a usage error (exit 2) naming what is wrong."""

from __future__ import annotations

import argparse
import contextlib
import io
import socket
from pathlib import Path

import pytest

from edgeward.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, run
from middleware.attribution.prefix_table import PrefixTable
from middleware.cli.dpi_report_tools import (
    MAX_LINES,
    demo_parser,
    fetch_parser,
    run_demo,
    run_fetch,
)
from middleware.report.synthetic import SEED_ASN

pytestmark = pytest.mark.usefixtures("restore_root_logger")


def _call(build: object, func: object, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    assert callable(build) and callable(func)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            args: argparse.Namespace = build().parse_args(argv)
            code = run(func, args)
        except SystemExit as exc:
            code = int(exc.code or 0)
    assert "Traceback" not in err.getvalue()
    return code, out.getvalue(), err.getvalue()


def test_demo_log_writes_a_log_and_its_table(tmp_path: Path) -> None:
    out = tmp_path / "access.log"
    code, printed, _ = _call(demo_parser, run_demo, [str(out), "--lines", "3000",
                                                     "--networks", "50"])  # fmt: skip
    table = tmp_path / "access.log.asn.tsv"  # the default: OUT.asn.tsv
    assert code == EXIT_OK
    assert printed.startswith(f"wrote {out} (3,000 lines, 3 corrupted from AS{SEED_ASN})")
    assert f"try: dpi-report --asn-table {table} {out}" in printed
    assert len(out.read_bytes().splitlines()) == 3000
    assert PrefixTable.load(table).name(SEED_ASN)


def test_demo_log_same_seed_same_files(tmp_path: Path) -> None:
    runs = []
    for name in ("a.log", "b.log"):
        argv = [str(tmp_path / name), "--lines", "500", "--networks", "20", "--seed", "9",
                "--table", str(tmp_path / f"{name}.tsv")]  # fmt: skip
        assert _call(demo_parser, run_demo, argv)[0] == EXIT_OK
        runs.append(((tmp_path / name).read_bytes(), (tmp_path / f"{name}.tsv").read_bytes()))
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["{out}", "--lines", "0"], "--lines"),
        (["{out}", "--lines", str(MAX_LINES + 1)], "--lines"),
        (["{out}", "--lines", "x"], "not a whole number"),
        (["{out}", "--networks", "0"], "--networks"),
        (["{out}", "--lines", "10", "--corrupted", "11"], "--corrupted must be between 0 and"),
        (["{out}", "--corrupted", "-1"], "--corrupted"),
        (["{out}", "--hours", "nan"], "--hours must be between"),
        (["{out}", "--hours", "0"], "--hours"),
        (["{out}", "--seed", "-1"], "--seed must be between"),
        (["{tmp}"], "OUT {tmp}: not a file in an existing folder"),
        (["{tmp}/no/such.log"], "not a file in an existing folder"),
        (["{out}", "--table", "{tmp}"], "--table {tmp}: not a file"),
    ],
)
def test_demo_log_refusals(tmp_path: Path, argv: list[str], says: str) -> None:
    argv = [a.replace("{out}", str(tmp_path / "a.log")).replace("{tmp}", str(tmp_path))
            for a in argv]  # fmt: skip
    code, printed, err = _call(demo_parser, run_demo, argv)
    assert code == EXIT_USAGE and says.replace("{tmp}", str(tmp_path)) in err
    assert printed == "" and not (tmp_path / "a.log").exists()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["ftp://example.org/t.tsv", "{out}"], "URL: "),
        (["not a url", "{out}"], "URL: "),
        (["http://127.0.0.1/t.tsv", "{out}", "--timeout", "0"], "--timeout must be between"),
        (["http://127.0.0.1/t.tsv", "{out}", "--timeout", "inf"], "--timeout"),
        (["http://127.0.0.1/t.tsv", "{out}", "--max-bytes", "0"], "--max-bytes must be at least"),
        (["http://127.0.0.1/t.tsv", "{tmp}"], "OUT {tmp}: not a file in an existing folder"),
    ],
)
def test_fetch_table_refusals(tmp_path: Path, argv: list[str], says: str) -> None:
    argv = [a.replace("{out}", str(tmp_path / "t.tsv")).replace("{tmp}", str(tmp_path))
            for a in argv]  # fmt: skip
    code, printed, err = _call(fetch_parser, run_fetch, argv)
    assert code == EXIT_USAGE and says.replace("{tmp}", str(tmp_path)) in err
    assert printed == ""


def test_fetch_table_download_failure_leaves_out_alone(tmp_path: Path) -> None:
    """Nothing listens on the port: exit 1, the message names the address, OUT as it was;
    the URL's query is never printed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed below: a port nothing listens on
    out = tmp_path / "t.tsv"
    out.write_text("kept\n")
    url = f"http://127.0.0.1:{port}/t.tsv?token=s3cret"
    code, _, err = _call(fetch_parser, run_fetch, [url, str(out), "--timeout", "10"])
    assert code == EXIT_FAILED
    assert f"127.0.0.1:{port}" in err and f"{out} left as it was" in err
    assert "s3cret" not in err
    assert out.read_text() == "kept\n"
