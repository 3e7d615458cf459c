"""The printers file: defaults, resolution, and errors naming the printer and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeward.config import ConfigError
from printer_sync.config import load_config

GOOD = """
state_dir = "var"

[[printer]]
name = "office"
url = "https://192.0.2.10"
password_file = "office.pass"
key = "certs/privkey.pem"
cert = "certs/cert.pem"
chain = "certs/chain.pem"
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "office.pass").write_text("s3cret-value\n")
    path = tmp_path / "printers.toml"
    path.write_text(text)
    return path


def test_defaults_and_resolution(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, GOOD))
    (p,) = cfg.printers
    assert p.driver == "epson" and p.tls == "pin" and p.renew_before_days == 20
    assert p.reboot_timeout == 180.0 and p.username == "" and p.ca_certs == []
    assert p.key == tmp_path / "certs/privkey.pem"  # relative to the printers file
    assert p.password is not None and p.password.reveal() == "s3cret-value"
    assert p.host == "192.0.2.10" and p.port == 443
    assert cfg.metrics_listen == "127.0.0.1:9466" and cfg.check_interval == 3600.0
    assert cfg.db_path == tmp_path / "var" / "printer-sync.db"
    assert cfg.source == tmp_path / "printers.toml"
    assert cfg.printer("office") is p


def test_metrics_off_is_accepted(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, 'metrics_listen = "off"\n' + GOOD))
    assert cfg.metrics_listen == "off"


def test_state_dir_defaults_beside_the_file(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, GOOD.replace('state_dir = "var"', "")))
    assert cfg.db_path == tmp_path / "state" / "printer-sync.db"


def test_password_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRINTER_PW", "from-env")
    text = GOOD.replace('password_file = "office.pass"', 'password_env = "PRINTER_PW"')
    (p,) = load_config(_write(tmp_path, text)).printers
    assert p.password is not None and p.password.reveal() == "from-env"


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        (('url = "https://192.0.2.10"', 'url = "192.0.2.10"'), 'printer "office".url', "base URL"),
        (('name = "office"', 'name = "my office"'), 'printer "my office".name', "letters"),
        (('chain = "certs/chain.pem"', 'driver = "hp"'), 'printer "office".driver', "'epson'"),
        (('chain = "certs/chain.pem"', 'tls = "tofu"'), 'printer "office".tls', "'pin'"),
        (
            ('chain = "certs/chain.pem"', "renew_before_days = 400"),
            'printer "office".renew_before_days',
            "0 to 365",
        ),
        (
            ('chain = "certs/chain.pem"', "reboot_timeout = 0"),
            'printer "office".reboot_timeout',
            "greater than 0",
        ),
        (('chain = "certs/chain.pem"', "colour = 1"), 'printer "office".colour', "unknown key"),
        (('key = "certs/privkey.pem"', ""), 'printer "office".key', "required key missing"),
        (
            ('password_file = "office.pass"', 'password_file = "missing.pass"'),
            'printer "office".password_file',
            "not found",
        ),
        (
            ('password_file = "office.pass"', 'password_env = "NO_SUCH_VARIABLE_X"'),
            'printer "office".password_env',
            "not set",
        ),
        (('state_dir = "var"', 'metrics_listen = "nowhere"'), "metrics_listen", "HOST:PORT"),
        (('state_dir = "var"', "check_interval = -1"), "check_interval", "greater than 0"),
        (('[[printer]]\nname = "office"', "[[printer]]\nname = 5"), "printer[0].name", "string"),
    ],
)
def test_mistakes_name_the_printer_and_the_key(
    tmp_path: Path, change: tuple[str, str], key: str, expected: str
) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, text))
    message = str(exc.value)
    assert message.startswith(str(tmp_path / "printers.toml"))
    assert key in message and expected in message


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    second = GOOD.split("[[printer]]")[1]
    with pytest.raises(ConfigError, match=r'printer "office"\.name: another printer'):
        load_config(_write(tmp_path, GOOD + "\n[[printer]]" + second))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("printer = 3", "printer: expected a list of table"), ("[[printer]\n", "not valid TOML")],
)
def test_broken_files(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[")):
        load_config(_write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_unknown_printer_lists_the_known_ones(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, GOOD))
    with pytest.raises(KeyError, match="configured: office"):
        cfg.printer("lab")
