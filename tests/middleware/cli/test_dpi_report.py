"""``dpi-report`` in-process on a synthetic day with the seed's incident: the report flags
AS9506 in JSON, text and HTML; the tools are routed by name; errors stay one line."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from edgeward.cli import EXIT_OK, EXIT_USAGE
from middleware.cli.dpi_report import TOOLS, build_parser, main, printable
from middleware.report.synthetic import SEED_ASN, write_demo

pytestmark = pytest.mark.usefixtures("restore_root_logger")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("dpi-report")
    log, table = tmp / "access.log", tmp / "t.tsv"
    write_demo(log, table, lines=20_000, networks=60, corrupted=20)
    return log, table


def _main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
    assert "Traceback" not in err.getvalue()
    return code, out.getvalue(), err.getvalue()


def test_json_flags_the_incident(demo: tuple[Path, Path]) -> None:
    log, table = demo
    code, out, _ = _main("--asn-table", str(table), "--json", "--no-progress", str(log))
    doc = json.loads(out)
    assert code == EXIT_OK
    assert doc["totals"]["requests"] == 20_000 and doc["totals"]["corrupted"] == 20
    assert doc["totals"]["flagged"] == [SEED_ASN]


def test_text_and_html_name_the_incident(demo: tuple[Path, Path], tmp_path: Path) -> None:
    log, table = demo
    page = tmp_path / "report.html"
    code, out, _ = _main("--asn-table", str(table), "--no-progress", "--html", str(page), str(log))
    assert code == EXIT_OK
    assert str(SEED_ASN) in page.read_text() and page.read_text().startswith("<!doctype html>")
    code, out, _ = _main("--asn-table", str(table), "--no-progress", str(log))
    assert code == EXIT_OK and str(SEED_ASN) in out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["{tmp}/missing.log"], "missing.log"),
        (["--alpha", "2", "{log}"], "--alpha"),
        (["--asn-table", "{tmp}/none.tsv", "{log}"], "none.tsv"),
        (["--bogus", "{log}"], "unknown option '--bogus'"),
        (["{tmp}/a\nb.log"], "a\\nb.log"),  # a newline in a name: still one line
    ],
)
def test_errors_are_one_line_exit_2(
    demo: tuple[Path, Path], tmp_path: Path, argv: list[str], says: str
) -> None:
    log, _ = demo
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{log}", str(log)) for a in argv]
    code, _, err = _main("--no-progress", *argv)
    assert code == EXIT_USAGE, err
    last = err.strip().splitlines()[-1]  # argparse's own errors print the usage first
    assert "error: " in last and says in last, err


def test_tools_are_routed_by_their_name(tmp_path: Path) -> None:
    assert set(TOOLS) == {"demo-log", "fetch-table", "merge"}
    code, out, _ = _main("demo-log", str(tmp_path / "x.log"), "--lines", "100", "--networks", "5")
    assert code == EXIT_OK and out.startswith(f"wrote {tmp_path / 'x.log'}")


@pytest.mark.parametrize(
    ("text", "shown"),
    [("plain.log", "plain.log"), ("a\nb", "a\\nb"), ("\x1b[2J", "\\x1b[2J"), ("é", "é")],
)
def test_printable(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_help_has_examples_and_exit_codes() -> None:
    text = build_parser().format_help()
    assert "examples:" in text and "exit codes:" in text
    assert "(default: None)" not in text
