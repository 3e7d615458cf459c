"""Bad input to ``printer-sync`` is a clear error, exit 2, never a traceback (issue 11,
item 13 and its must-show property test).

The configuration cases run ``status`` (it reads the whole printers file and opens the
state database, and sends nothing but a handshake to a closed loopback port).
"""

from __future__ import annotations

import json
import math
import os
import re
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from printer_sync.config import Config, PrinterConfig
from tests.support.net import free_port
from tests.support.printers import exit_code, write_config


@pytest.fixture(scope="module")
def ground(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Valid files a printers file can name, a directory, and an unreadable file."""
    root = tmp_path_factory.mktemp("cli")
    (root / "pw").write_text("secret-pw\n")
    (root / "dir").mkdir()
    (root / "notsqlite.db").write_bytes(b"this is not an SQLite file" * 10)
    (root / "latin1.pw").write_bytes(b"\xe9t\xe9\n")
    return root


def printer(ground: Path, **overrides: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "name": "office",
        "url": f"https://127.0.0.1:{free_port()}",  # nothing listens: a quick refusal
        "password_file": ground / "pw",
        "key": ground / "key.pem",
        "cert": ground / "cert.pem",
        "timeout": 2.0,
    }
    table.update(overrides)
    return table


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = exit_code(argv)
    out, err = capsys.readouterr()
    # (An earlier in-process test's thread may log into a capture that is closed by now:
    # the logging module reports that as "--- Logging error ---" with a traceback of its
    # own. That noise is not this command's output.)
    mine = re.sub(r"--- Logging error ---.*?\nArguments: [^\n]*\n", "", out + err, flags=re.S)
    assert "Traceback" not in mine
    return code, err


def status(capsys: pytest.CaptureFixture[str], cfg: Path, *extra: str) -> tuple[int, str]:
    return run(capsys, ["status", "--config", str(cfg), *extra])


# --- the cases of the issue, one each -------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["status", "--timeout", "-5"], "--timeout"),
        (["status", "--timeout", "nan"], "--timeout"),
        (["status", "--timeout", "inf"], "--timeout"),
        (["status", "--timeout", "1e400"], "--timeout"),
        (["emulate", "--state-dir", "{tmp}/emu", "--password-file", "{tmp}"], "--password-file"),
        (["emulate", "--state-dir", "{tmp}/emu", "--reboot-seconds", "nan"], "--reboot-seconds"),
        (["emulate", "--state-dir", "{tmp}/pw", "--password", "x"], "--state-dir"),
        (["history", "--limit", "0"], "--limit"),
        (["watch", "--check-interval", "nan"], "--check-interval"),
        (["identify", "127.0.0.1", "--port", "99999"], "--port"),
        (["identify", "127.0.0.1", "--timeout", "-1"], "--timeout"),
        (["status", "--bogus"], "--bogus"),
    ],
)
def test_bad_options_exit_2_naming_the_option(
    capsys: pytest.CaptureFixture[str], ground: Path, argv: list[str], named: str
) -> None:
    cfg = write_config(ground / "printers.toml", [printer(ground)], state_dir=ground / "state")
    argv = [a.replace("{tmp}", str(ground)) for a in argv]
    if argv[0] in ("status", "history", "watch"):
        argv += ["--config", str(cfg)]
    code, err = run(capsys, argv)
    assert code == 2 and named in err, err


@pytest.mark.parametrize(
    ("where", "key", "value"),
    [
        ("printer", "url", "https://127.0.0.1:99999"),
        ("printer", "url", "https://127.0.0.1:abc"),
        ("printer", "url", "https://127.0.0.1:0"),
        ("printer", "url", "https://[::1"),
        ("printer", "timeout", math.inf),  # what TOML's 1e400 reads as
        ("printer", "timeout", 10**400),
        ("printer", "reboot_timeout", math.nan),
        ("printer", "push_timeout", -1.0),
        ("printer", "password_file", "{dir}"),
        ("printer", "password_file", "{latin1}"),
        ("top", "check_interval", math.nan),
        ("top", "state_dir", "{file}"),
        ("top", "state_dir", "/proc/self/printer-sync-state"),  # unwritable, even for root
        ("top", "database", "{dir}"),
        ("top", "database", "{notsqlite}"),
    ],
)
def test_bad_config_values_exit_2_naming_the_key(
    capsys: pytest.CaptureFixture[str], ground: Path, where: str, key: str, value: object
) -> None:
    if isinstance(value, str):
        value = value.format(
            dir=ground / "dir",
            file=ground / "pw",
            latin1=ground / "latin1.pw",
            notsqlite=ground / "notsqlite.db",
        )
    table = printer(ground, **({key: value} if where == "printer" else {}))
    top = {key: value} if where == "top" else {}
    top.setdefault("state_dir", ground / "state")
    cfg = write_config(ground / "printers.toml", [table], **top)
    # (status only reads: the state folder is written by history, push and watch)
    command = "history" if key in ("state_dir", "database") else "status"
    code, err = run(capsys, [command, "--config", str(cfg)])
    assert code == 2, err
    assert key in err or "state database" in err, err


def test_an_unwritable_state_dir_stops_push_with_exit_2(
    capsys: pytest.CaptureFixture[str], ground: Path
) -> None:
    state = "/proc/self/printer-sync-state"  # unwritable, even for root
    cfg = write_config(ground / "printers.toml", [printer(ground)], state_dir=state)
    code, err = run(capsys, ["push", "--all", "--config", str(cfg)])
    assert code == 2 and "state database" in err and state in err


# --- the property: arbitrary values for every option and key ---------------------------

PRINTER_KEYS = sorted(
    f.metadata.get("key") or f.name for f in PrinterConfig.__dataclass_fields__.values() if f.init
)
TOP_KEYS = sorted(
    f.metadata.get("key") or f.name
    for f in Config.__dataclass_fields__.values()
    if f.init and f.name != "printers"
)
PLACES = ["{dir}", "{notsqlite}", "{latin1}", "/proc/self/x", "/nonexistent/x", ""]
toml_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.just(10**400),
    st.booleans(),
    st.text(alphabet=string.printable, max_size=12),
    st.sampled_from(PLACES),
    st.lists(st.sampled_from(PLACES), max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=1),
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _fill(value: object, ground: Path) -> object:
    if isinstance(value, str):
        return (
            value.replace("{dir}", str(ground / "dir"))
            .replace("{notsqlite}", str(ground / "notsqlite.db"))
            .replace("{latin1}", str(ground / "latin1.pw"))
        )
    if isinstance(value, list):
        return [_fill(v, ground) for v in value]
    return value


def _toml_safe(value: object) -> bool:
    return not isinstance(value, dict)  # the test writer does not write inline tables


def toml(value: object) -> str:
    """Any generated value as TOML (strings escaped as JSON does, which TOML reads)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def write_toml(path: Path, table: dict[str, Any], top: dict[str, Any]) -> Path:
    lines = [f"{k} = {toml(v)}" for k, v in top.items()]
    lines += ["[[printer]]", *(f"{k} = {toml(v)}" for k, v in table.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@FUZZ
@given(
    where=st.sampled_from(["printer", "top"]),
    data=st.data(),
    value=toml_values.filter(_toml_safe),
)
def test_any_config_value_is_a_result_or_exit_2_naming_the_key(
    capsys: pytest.CaptureFixture[str],
    ground: Path,
    where: str,
    data: st.DataObject,
    value: object,
) -> None:
    key = data.draw(st.sampled_from(PRINTER_KEYS if where == "printer" else TOP_KEYS))
    if key == "url" and isinstance(value, str) and "://" in value:
        value = "no scheme here"  # never aim a test at an address it does not own
    if key == "metrics_listen" or (key, where) == ("name", "printer"):
        pass  # checked by syntax only; status does not listen
    value = _fill(value, ground)
    table = printer(ground, **({key: value} if where == "printer" else {}))
    top: dict[str, Any] = {key: value} if where == "top" else {}
    top.setdefault("state_dir", ground / "state")
    cfg = write_toml(ground / "printers.toml", table, top)
    code, err = status(capsys, cfg, "--timeout", "1")
    assert code in (0, 1, 2), err
    if code == 2:
        assert key in err or "state database" in err, err
    if (
        isinstance(value, float)
        and not math.isfinite(value)
        and key
        in (
            "timeout",
            "reboot_timeout",
            "push_timeout",
            "check_interval",
            "retry_backoff",
            "file_settle",
        )
    ):
        assert code == 2


numbers_as_text = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "-5", "0", "1e400", "9" * 400, "", "x", "\udcff"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
    st.text(max_size=8),
)
# Options whose valid values would make the command wait on the network: only bad ones.
OPTIONS = [
    ("status", "--timeout", numbers_as_text),
    ("history", "--limit", numbers_as_text),
    ("history", "--forget-pin", st.text(max_size=10)),
    ("push", "--repin", st.text(max_size=70)),
    ("watch", "--check-interval", numbers_as_text),
    ("watch", "--metrics-listen", st.text(max_size=20)),
    ("emulate", "--reboot-seconds", numbers_as_text),
    ("emulate", "--password-file", st.sampled_from(PLACES)),
    ("emulate", "--listen", st.text(max_size=20)),
    ("identify", "--port", numbers_as_text),
    ("identify", "--timeout", numbers_as_text),
    ("identify", "--retries", numbers_as_text),
]


@FUZZ
@given(choice=st.sampled_from(OPTIONS), data=st.data())
def test_any_option_value_is_a_result_or_exit_2_naming_the_option(
    capsys: pytest.CaptureFixture[str],
    ground: Path,
    choice: tuple[str, str, st.SearchStrategy[str]],
    data: st.DataObject,
) -> None:
    command, option, values = choice
    value = str(_fill(data.draw(values), ground))
    empty = ground / "empty.toml"  # watch: no printer, so a valid value never starts it
    empty.write_text(f'state_dir = "{ground / "state"}"\n')
    cfg = write_config(ground / "printers.toml", [printer(ground)], state_dir=ground / "state")
    base = {
        "status": ["status", "--config", str(cfg)],
        "history": ["history", "--config", str(cfg)],
        "push": ["push", "office", "--dry-run", "--config", str(cfg)],
        "watch": ["watch", "--config", str(empty)],
        # a state dir that is a file: a valid value never starts the emulator
        "emulate": ["emulate", "--state-dir", str(ground / "pw")],
        "identify": ["identify", "127.0.0.1", "--port", "0"],  # refused before any packet
    }[command]
    if command == "identify" and option == "--port":
        base = ["identify", "127.0.0.1", "--timeout", "-1"]
    code, err = run(capsys, [*base, f"{option}={value}"])
    assert code in (0, 1, 2), err
    valid = VALID.get((command, option))
    if valid is not None and not valid(value):
        assert code == 2 and option in err, err
    if code == 2:
        assert err.strip(), "exit 2 without saying why"


def _number(
    text: str, low: float, high: float, *, whole: bool = False, open_low: bool = True
) -> bool:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        return False
    above = value > low if open_low else value >= low
    finite = whole or math.isfinite(value)  # (an int of 400 digits has no float)
    return finite and above and value <= high


VALID = {
    ("status", "--timeout"): lambda t: _number(t, 0, 3600),
    ("history", "--limit"): lambda t: _number(t, 1, 1e6, whole=True, open_low=False),
    ("watch", "--check-interval"): lambda t: _number(t, 0, 30 * 86400),
    ("emulate", "--reboot-seconds"): lambda t: _number(t, 0, 3600, open_low=False),
    ("identify", "--port"): lambda t: _number(t, 1, 65535, whole=True, open_low=False),
    ("identify", "--timeout"): lambda t: _number(t, 0, 600),
    ("identify", "--retries"): lambda t: _number(t, 0, 10, whole=True, open_low=False),
}


def test_the_fuzzed_keys_are_all_the_keys() -> None:
    assert {"url", "timeout", "reboot_timeout", "push_timeout", "password_file"} <= set(
        PRINTER_KEYS
    )
    assert {"state_dir", "database", "check_interval"} <= set(TOP_KEYS)
    assert os.sep  # (keeps the import honest on every platform)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'state_dir = "\xff\xfe"\n', "not UTF-8"),  # non-UTF-8 bytes
        (b"[[printer]\n", "not valid TOML"),
        (None, "cannot read"),  # --config names a folder
    ],
)
def test_an_unreadable_printers_file_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes | None, expected: str
) -> None:
    cfg = tmp_path / "printers.toml"
    if content is None:
        cfg.mkdir()
    else:
        cfg.write_bytes(content)
    for command in ("status", "history", "watch"):
        code, err = run(capsys, [command, "--config", str(cfg)])
        assert code == 2 and expected in err and str(cfg) in err, err
