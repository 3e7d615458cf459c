"""`dpi-report --help` and its commands' help: defaults once, one placeholder style,
examples and exit codes; an unknown option is named as unknown."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

DPI_REPORT = [sys.executable, "-m", "middleware", "dpi-report"]
PLACEHOLDERS = {"FILE", "DIR", "N", "P", "SECONDS", "CIDR", "H", "INPUT", "OUT", "URL"}


def help_of(*command: str) -> str:
    proc = subprocess.run(
        [*DPI_REPORT, *command, "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("command", [[], ["demo-log"], ["fetch-table"], ["merge"]])
def test_help_is_tidy(command: list[str]) -> None:
    text = help_of(*command)
    options = text[text.index("options:") : text.index("examples:")]
    assert "(default: None)" not in options and "(default: False)" not in options
    assert "(default: [])" not in options
    for entry in re.split(r"\n  (?=-)", options):  # one option's help each
        assert entry.count("default") <= 1, entry
    metavars = set(re.findall(r"--[a-z-]+ ([A-Z][A-Z_]*)\b", options))
    assert metavars <= PLACEHOLDERS, metavars - PLACEHOLDERS
    assert "examples:" in text and "exit codes:" in text


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--bogus", "access.log"], "unknown option '--bogus'"),
        (["--bogus"], "unknown option '--bogus'"),  # not "the following arguments are required"
        (["--asn-tabel", "t.tsv", "access.log"], "unknown option '--asn-tabel' (did you mean "
                                                 "--asn-table?)"),
        (["demo-log", "x.log", "--lnes", "5"], "unknown option '--lnes'"),
        (["fetch-table", "--forse", "http://127.0.0.1/", "t.tsv"], "unknown option '--forse'"),
        (["merge", "--jsn", "p.json"], "unknown option '--jsn' (did you mean --json?)"),
    ],
)  # fmt: skip
def test_an_unknown_option_is_named_as_unknown(args: list[str], says: str) -> None:
    proc = subprocess.run([*DPI_REPORT, *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    last = proc.stderr.splitlines()[-1]
    assert last.startswith("dpi-report") and last.split(": error: ", 1)[1].startswith(says)
