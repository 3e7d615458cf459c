"""The shared parser: defaults shown once and only when they say something; an unknown
option named as unknown, with the nearest known one."""

from __future__ import annotations

import argparse

import pytest

from edgeward.cli import parser


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
