"""``caldav-gateway --help`` and its subcommands' help: what a new user reads first."""

from __future__ import annotations

import re

import pytest

from caldav_gateway.cli import main

PLACEHOLDERS = {"HOST:PORT", "FILE", "DIR", "URL", "USER", "N", "SECONDS", "COMMAND"}


def help_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def options(text: str) -> list[str]:
    """Each option's help entry (its flag line and the indented lines that follow)."""
    entries: list[str] = []
    for line in text.splitlines():
        if re.match(r"^  -", line):
            entries.append(line)
        elif entries and re.match(r"^ {20,}\S", line):
            entries[-1] += " " + line.strip()
        elif not line.startswith(" "):
            entries.append("")  # a heading ends the entry
    return [e for e in entries if e]


@pytest.mark.parametrize("argv", [(), ("serve",), ("doctor",)])
def test_help_says_each_default_once_and_uses_one_placeholder_style(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    text = help_of(capsys, *argv)
    assert "(default: None)" not in text and "(default: False)" not in text
    for entry in options(text):
        assert len(re.findall(r"\bdefault\b", entry)) <= 1, entry
    usage = text.split("\n\n", 1)[0]
    for metavar in re.findall(r"(?<=[ \[])-{1,2}[\w-]+ ([A-Z][A-Z:_]*)\b", usage):
        assert metavar in PLACEHOLDERS, (metavar, usage)
    assert "examples:" in text


def test_top_level_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys)
    codes = text.split("exit codes:", 1)[1]
    for code, meaning in (("0", "done"), ("1", "failed"), ("2", "configuration")):
        assert re.search(rf"^\s+{code}\s+.*{meaning}", codes, re.M), codes
    assert "caldav-gateway serve" in text and "caldav-gateway doctor" in text
