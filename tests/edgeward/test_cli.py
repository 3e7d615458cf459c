"""The shared CLI frame: the parser (defaults shown once and only when they say something;
an unknown option named as unknown, with the nearest known one), errors mapped to exit
codes, subcommands found in ``cmd_<name>`` modules, and the argparse types."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from edgeward.cli import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    command_group,
    link_seconds,
    one_line,
    parser,
    run,
    seconds,
    tool_group,
    whole,
)
from edgeward.config import ConfigError

pytestmark = pytest.mark.usefixtures("restore_root_logger")


def make() -> argparse.ArgumentParser:
    p = parser("tool", "a tool")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--table", metavar="FILE", help="a table")
    p.add_argument("--json", action="store_true", help="write JSON")
    p.add_argument("--top", type=int, default=20, metavar="N", help="rows")
    p.add_argument("--proxy", action="append", default=[], metavar="CIDR", help="proxies")
    p.add_argument("--mode", default="x", help="the mode (default: x, or y when piped)")
    return p


def test_defaults_are_shown_once_and_only_when_they_say_something() -> None:
    text = make().format_help()
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "(default: [])" not in text
    assert "rows (default: 20)" in text
    assert text.count("default: x") == 1


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--bogus", "in"], "unknown option '--bogus'"),
        (["--bogus"], "unknown option '--bogus'"),  # argparse: "arguments are required: INPUT"
        (["--tabel", "t", "in"], "unknown option '--tabel' (did you mean --table?)"),
        (["--tabel=t", "in"], "unknown option '--tabel' (did you mean --table?)"),
        (["in", "--", "--bogus"], None),  # after "--": an input, not an option
        (["--tab", "t", "in"], None),  # a unique abbreviation argparse accepts
    ],
)
def test_an_unknown_option_is_named(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str | None
) -> None:
    p = make()
    if says is None:
        p.parse_args(argv)
        return
    with pytest.raises(SystemExit) as exc:
        p.parse_args(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"tool: error: {says}"


def test_a_double_dash_value_is_refused_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """argparse removes a "--" value and gives the option [] (found by hypothesis in
    printer-sync status --timeout=--): the shared parser refuses it, exit 2."""
    p = parser("t", "test")
    p.add_argument("--timeout", type=float, default=1.0)
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["--timeout=--"])
    assert exc.value.code == 2
    assert "argument --timeout: expected a value" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("exc", "code", "text"),
    [
        (ConfigError("f.toml", "a.b", "expected a string"), EXIT_USAGE, "f.toml: a.b: expected"),
        (UsageError("give a NAME or --all"), EXIT_USAGE, "give a NAME or --all"),
        (UsageError("bad\nname"), EXIT_USAGE, "error: bad\\nname"),  # stays one line
        (KeyboardInterrupt(), EXIT_INTERRUPTED, "interrupted"),
    ],
)
def test_run_maps_errors_to_exit_codes(
    capsys: pytest.CaptureFixture[str], exc: BaseException, code: int, text: str
) -> None:
    def main(args: argparse.Namespace) -> int:
        raise exc

    assert run(main, argparse.Namespace()) == code
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err


def test_run_returns_what_main_returns_and_sets_the_log_level() -> None:
    args = argparse.Namespace(log_level="warning", log_format="text")
    assert run(lambda a: 7, args) == 7
    assert logging.getLogger().level == logging.WARNING


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("a\nb", "a\\nb"),
        ("tab\there", "tab\\there"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("été", "été"),
    ],
)
def test_one_line_escapes_control_characters(text: str, expected: str) -> None:
    assert one_line(text) == expected


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        (seconds(), "1.5", 1.5),
        (seconds(), "0", None),
        (seconds(zero=True), "0", 0.0),
        (seconds(), "-1", None),
        (seconds(), "nan", None),
        (seconds(), "inf", None),
        (seconds(), "x", None),
        (seconds(most=10), "10", 10.0),
        (seconds(most=10), "10.5", None),
        (whole(1, 5), "1", 1),
        (whole(1, 5), "5", 5),
        (whole(1, 5), "6", None),
        (whole(1, 5), "0", None),
        (whole(1, 5), "2.0", None),
        (whole(0, 5), "x", None),  # not "0": an unparsable text is below the range
        (link_seconds, "1", 1),
        (link_seconds, "604800", 604800),
        (link_seconds, "604801", None),
        (link_seconds, "0", None),
        (link_seconds, "1.5", None),
    ],
)
def test_argparse_types(kind: object, text: str, value: float | None) -> None:
    assert callable(kind)
    if value is None:
        with pytest.raises(argparse.ArgumentTypeError, match="expected"):
            kind(text)
    else:
        assert kind(text) == value


def _write_group(root: Path) -> str:
    pkg = root / "grp_pkg_for_cli_test"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "cmd_hello.py").write_text(
        "HELP = 'say hello'\n"
        "EPILOG = 'hello epilog'\n"
        "def add_arguments(p):\n    p.add_argument('--name', default='world', help='who')\n"
        "def run(args):\n    print('hello', args.name)\n    return 0\n"
    )
    (pkg / "cmd_fail.py").write_text(
        "HELP = 'fail'\n"
        "def add_arguments(p):\n    pass\n"
        "def run(args):\n"
        "    from edgeward.cli import UsageError\n    raise UsageError('no such thing')\n"
    )
    return pkg.name


@pytest.mark.parametrize(
    ("argv", "code", "out", "err"),
    [
        (["hello"], EXIT_OK, "hello world", ""),
        (["hello", "--name", "x"], EXIT_OK, "hello x", ""),
        (["fail"], EXIT_USAGE, "", "error: no such thing"),
        (["hello", "--nmae", "x"], EXIT_USAGE, "", "unknown option '--nmae'"),
        (["nope"], EXIT_USAGE, "", "invalid choice: 'nope'"),
        ([], EXIT_USAGE, "", "required: COMMAND"),
        (["hello", "--help"], EXIT_OK, "hello epilog", ""),
        (["fail", "--log-format", "json", "--help"], EXIT_OK, "--log-level", ""),
    ],
)
def test_command_group_finds_each_subcommand_in_its_module(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    out: str,
    err: str,
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    package = _write_group(tmp_path)
    try:
        got = command_group("grp", "a group", package, ["hello", "fail"], argv)
    except SystemExit as exc:  # argparse: --help, usage errors
        got = int(exc.code or 0)
    captured = capsys.readouterr()
    assert got == code
    assert out in captured.out and err in captured.err


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["--help"], EXIT_OK, "edgeward.cli's test tool"),
        (["bogus"], EXIT_USAGE, "invalid choice: 'bogus'"),
        ([], EXIT_USAGE, "required: COMMAND"),
    ],
)
def test_tool_group_refuses_what_is_not_a_tool(
    capsys: pytest.CaptureFixture[str], argv: list[str], code: int, says: str
) -> None:
    tools = {"sub": ("edgeward.cli", "edgeward.cli's test tool")}
    with pytest.raises(SystemExit) as exc:
        tool_group("group", "a group", tools, argv)
    captured = capsys.readouterr()
    assert exc.value.code == code
    assert says in captured.out + captured.err


def test_tool_group_hands_the_rest_to_the_tool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tool_for_cli_test.py").write_text("def main(argv):\n    return len(argv)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    tools = {"t": ("tool_for_cli_test", "a tool")}
    assert tool_group("g", "d", tools, ["t", "a", "--bogus"]) == 2


@pytest.mark.parametrize(
    "module",
    [
        "middleware.cli.signed_url",
        "middleware.cli.dpi_watch",
        "middleware.cli.dpi_report",
        "caldav_gateway",
        "printer_sync",
    ],
)
def test_every_entry_point_answers_help(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        timeout=150,  # a loaded machine once took >60 s
    )
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout
