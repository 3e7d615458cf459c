from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from edgeward.config import (
    ConfigError,
    derived,
    load_file,
    load_mapping,
    positive,
    positive_at_most,
    setting,
)
from edgeward.secrets import Secret


def _positive(v: int) -> None:
    if v <= 0:
        raise ValueError("must be greater than 0")


@dataclass(frozen=True)
class Printer:
    name: str = setting(help="short name")
    url: str = setting(help="base URL")
    password: Secret | None = setting(None, help="password")
    renew_before_days: int = setting(20, help="days", check=_positive)
    tls: Literal["pin", "system", "insecure"] = setting("pin", help="trust")
    key: Path | None = setting(None, help="key file")


@dataclass(frozen=True)
class Root:
    printers: list[Printer] = setting(default_factory=list, help="printers", key="printer")
    ratio: float = setting(0.5, help="a ratio")
    debug: bool = setting(False, help="debug")
    tags: tuple[str, ...] = setting((), help="tags")


def test_loads_valid_file_with_defaults_and_relative_paths(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('ratio = 1\n[[printer]]\nname = "a"\nurl = "https://x"\nkey = "k.pem"\n')
    cfg = load_file(Root, f)
    assert cfg.ratio == 1.0
    assert cfg.printers[0].renew_before_days == 20
    assert cfg.printers[0].key == tmp_path / "k.pem"
    assert cfg.printers[0].tls == "pin"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('debug = "yes"', "debug: expected true or false, got 'yes'"),
        ("ratio = true", "ratio: expected a number, got True"),
        ("nope = 1", "nope: unknown key (known keys: debug, printer, ratio, tags)"),
        ("[[printer]]\nname = 'a'", "printer[0].url: required key missing (base URL)"),
        (
            "[[printer]]\nname='a'\nurl='u'\nrenew_before_days=0",
            "printer[0].renew_before_days: must be greater than 0",
        ),
        (
            "[[printer]]\nname='a'\nurl='u'\ntls='maybe'",
            "printer[0].tls: expected one of 'pin', 'system', 'insecure', got 'maybe'",
        ),
        ("tags = [1]", "tags[0]: expected a string, got 1"),
        ("printer = 3", "printer: expected a list of table, got 3"),
        ("ratio = ", "not valid TOML"),
        (  # Path("~nobody-here").expanduser() raises RuntimeError
            "[[printer]]\nname='a'\nurl='u'\nkey='~no-such-user-0/k.pem'",
            "printer[0].key: no user 'no-such-user-0' to expand ~ for",
        ),
    ],
)
def test_errors_name_file_key_and_expectation(tmp_path: Path, toml: str, expected: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_file(Root, f)
    assert str(info.value).startswith(str(f))
    assert expected in str(info.value)


def test_secret_value_never_in_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_mapping(Printer, {"name": "a", "url": "u", "password": 12345678})
    assert "12345678" not in str(info.value)
    cfg = load_mapping(Printer, {"name": "a", "url": "u", "password": "hunter2-secret"})
    assert "hunter2-secret" not in repr(cfg)
    assert cfg.password is not None and cfg.password.reveal() == "hunter2-secret"


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_file(Root, tmp_path / "absent.toml")
    f = tmp_path / "latin1.toml"
    f.write_bytes(b"x = '\xe9'")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_file(Root, f)


def test_section(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[gateway]\nratio = 2.5\n")
    assert load_file(Root, f, section="gateway").ratio == 2.5


@dataclass(frozen=True)
class Labelled:
    printers: list[Printer] = setting(
        default_factory=list, help="printers", key="printer", item_label="name"
    )
    source: Path | None = derived()


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[[printer]]\nname = "office"\nurl = 5', 'printer "office".url: expected a string'),
        ("[[printer]]\nurl = 5", "printer[0].name: required key missing"),
        ("source = 'x'", "source: unknown key"),  # a derived field is never a key
    ],
)
def test_item_labels_and_derived_fields(tmp_path: Path, toml: str, expected: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[").replace(".", r"\.")):
        load_file(Labelled, f)


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, 0.0])
def test_positive_refuses_non_finite_and_non_positive(value: float) -> None:
    with pytest.raises(ValueError, match="finite number greater than 0"):
        positive(value)
    with pytest.raises(ValueError, match="greater than 0"):
        positive_at_most(10.0)(value)
    with pytest.raises(ValueError, match="at most 10"):
        positive_at_most(10.0)(11.0)


def test_a_huge_integer_for_a_float_is_a_config_error(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text(f"ratio = {10**400}\n")
    with pytest.raises(ConfigError, match="ratio: expected a number"):
        load_file(Root, f)
