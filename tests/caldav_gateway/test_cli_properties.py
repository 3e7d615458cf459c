"""No value of any ``serve``/``doctor`` option or ``gateway.toml`` key gives a traceback.

Hypothesis picks arbitrary values (NaN, infinities, huge numbers, directories, missing and
non-UTF-8 files, control characters) for each option and key; the command either gets past
its checks (serving or the doctor's network part is replaced by a sentinel, so nothing
listens and nothing leaves the machine) or exits 2 with one ``error:`` line that names the
option, the key or the offending value.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caldav_gateway import cli, cmd_doctor, cmd_serve
from caldav_gateway.settings import GatewaySettings
from caldav_gateway.throttle import ThrottleSettings
from edgeward import pki
from edgeward.cli import one_line
from tests.support.gateway import write_htpasswd


class _Reached(Exception):
    """The command got past every check (it would bind the port / run the checks now)."""


@pytest.fixture(scope="module")
def place() -> Iterator[Path]:
    """A folder with a good pair, users, a directory, a non-UTF-8 and an empty file."""
    with tempfile.TemporaryDirectory(prefix="gw-props-") as tmp:
        root = Path(tmp)
        ca = pki.make_ca()
        pki.write_pair(pki.issue(ca), root / "key.pem", root / "cert.pem")
        (root / "ca.pem").write_bytes(ca.cert_pem())
        write_htpasswd(root / "users", {"alice": "pw-alice"})
        (root / "dir").mkdir()
        (root / "latin1").write_bytes(b"caf\xe9:\xff\xfe\n")
        (root / "empty").write_bytes(b"")
        (root / "pw").write_text("secret\n")
        yield root


FIXTURES = ["cert.pem", "key.pem", "users", "dir", "latin1", "empty", "missing", "ca.pem"]
NUMBERS = ["nan", "inf", "-inf", "1e400", "-1", "0", "0.0", "9" * 400, "-" + "9" * 30, "1"]


def _text() -> st.SearchStrategy[str]:
    # no absolute or home paths: a value may become a folder the gateway creates
    return st.text(max_size=24).filter(lambda t: not t.lstrip().startswith(("/", "~")))


def _cli_value(place: Path) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NUMBERS),
        st.sampled_from([str(place / f) for f in FIXTURES]),
        st.sampled_from(["127.0.0.1:0", "[::1]:0", "off", "principals", "1.3", ""]),
        _text(),
    )


def _toml_value(place: Path) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0]),
        st.integers(),
        st.sampled_from([10**30, -(10**30), 2**63 - 1, 0, 1, -1]),
        st.booleans(),
        st.sampled_from([str(place / f) for f in FIXTURES]),
        _text(),
    )
    return st.one_of(
        scalars, st.lists(scalars, max_size=3), st.dictionaries(_text(), scalars, max_size=2)
    )


def _toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_string(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _options_taking_a_value(add_arguments: Callable[[argparse.ArgumentParser], None]) -> list[str]:
    """Every option of a subcommand that takes a value (flags such as --web take none)."""
    p = argparse.ArgumentParser()
    add_arguments(p)
    return [
        a.option_strings[-1] if a.option_strings else "URL"
        for a in p._actions
        if a.nargs != 0 and not isinstance(a, argparse._HelpAction)
    ]


def _keys(cls: type[Any]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


SERVE_OPTIONS = _options_taking_a_value(cmd_serve.add_arguments)
GATEWAY_KEYS = _keys(GatewaySettings)
THROTTLE_KEYS = _keys(ThrottleSettings)
DOCTOR_OPTIONS = _options_taking_a_value(cmd_doctor.add_arguments)


def test_every_option_and_key_is_covered() -> None:
    assert "--tls-min-version" in SERVE_OPTIONS and "--web" not in SERVE_OPTIONS
    assert {"keep_alive", "throttle", "max_body"} <= set(GATEWAY_KEYS)
    assert "max_checks" in THROTTLE_KEYS
    assert set(DOCTOR_OPTIONS) == {
        "URL",
        "--user",
        "--password-file",
        "--ca",
        "--timeout",
        "--profile",
    }


def _run(argv: list[str], cwd: Path, patch: str) -> tuple[int | str, str]:
    """``caldav-gateway ARGV`` in this process; (exit code or 'reached', stderr)."""
    err = io.StringIO()
    before = os.getcwd()
    os.chdir(cwd)
    try:
        with (
            mock.patch(patch, side_effect=_Reached),
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            try:
                code: int | str = cli.main(argv)
            except _Reached:
                code = "reached"
            except SystemExit as exc:  # argparse
                code = int(exc.code or 0)
    finally:
        os.chdir(before)
    return code, err.getvalue()


def _base(place: Path) -> list[str]:
    return [
        "serve",
        *("--cert", str(place / "cert.pem"), "--key", str(place / "key.pem")),
        *("--htpasswd", str(place / "users"), "--collections", str(place / "cals")),
        *("--listen", "127.0.0.1:0", "--metrics-listen", "off"),
    ]


def _named(stderr: str, *names: str) -> bool:
    """Whether the error names one of ``names`` (as given, quoted, or control-escaped)."""
    return any(n and (n in stderr or repr(n) in stderr or one_line(n) in stderr) for n in names)


PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(data=st.data())
def test_any_serve_option_value(place: Path, data: st.DataObject) -> None:
    option = data.draw(st.sampled_from(SERVE_OPTIONS), label="option")
    value = data.draw(_cli_value(place), label="value")
    code, stderr = _run([*_base(place), option, value], place, "caldav_gateway.server.bind")
    assert "Traceback" not in stderr
    if code != "reached":
        assert code == 2, stderr
        last = stderr.strip("\n").split("\n")[-1]  # argparse prints its usage first
        assert "error: " in last, stderr
        assert _named(last, option, value, option.lstrip("-").replace("-", "_")), stderr


@PROPERTY
@given(data=st.data())
def test_any_gateway_toml_value(place: Path, data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(GATEWAY_KEYS + [f"throttle.{k}" for k in THROTTLE_KEYS]))
    value = data.draw(_toml_value(place), label="value")
    with tempfile.TemporaryDirectory(dir=place) as tmp:
        config = Path(tmp) / "gateway.toml"
        if key.startswith("throttle."):
            config.write_text(f"[throttle]\n{key.split('.', 1)[1]} = {_toml(value)}\n")
        else:
            config.write_text(f"{key} = {_toml(value)}\n")
        code, stderr = _run(
            [*_base(place), "--config", str(config)], Path(tmp), "caldav_gateway.server.bind"
        )
    assert "Traceback" not in stderr
    if code != "reached":
        assert code == 2, stderr
        assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
        assert _named(stderr, key, key.split(".")[-1], str(value)), stderr


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe\x00garbage", b"workers = 1\n\x80\n", b"[throttle\n", b'x = "\\u0000"\n'],
)
def test_a_broken_gateway_toml_is_named(place: Path, content: bytes) -> None:
    config = place / "broken.toml"
    config.write_bytes(content)
    code, stderr = _run(
        [*_base(place), "--config", str(config)], place, "caldav_gateway.server.bind"
    )
    assert code == 2 and stderr.startswith(f"error: {config}"), stderr


@PROPERTY
@given(data=st.data())
def test_any_doctor_option_value(place: Path, data: st.DataObject) -> None:
    option = data.draw(st.sampled_from(DOCTOR_OPTIONS), label="option")
    value = data.draw(_cli_value(place), label="value")
    args = {
        "URL": "https://127.0.0.1:1/",
        "--user": "alice",
        "--password-file": str(place / "pw"),
    }
    args[option] = value
    argv = ["doctor", args.pop("URL"), *(x for kv in args.items() for x in kv)]
    code, stderr = _run(argv, place, "caldav_gateway.cmd_doctor.run_doctor")
    assert "Traceback" not in stderr
    if code != "reached":
        assert code == 2, stderr
        last = stderr.strip("\n").split("\n")[-1]
        assert "error: " in last, stderr
        assert _named(last, option, value, option.lstrip("-")), stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--password-file", "dir"], "dir: cannot read the secret file (Is a directory)"),
        (["--timeout", "-1"], "argument --timeout: expected a number of seconds above 0"),
        (["--timeout", "nan"], "argument --timeout: expected a number of seconds above 0"),
        (["--timeout", "inf"], "argument --timeout"),
        (["--ca", "dir"], "dir': CA file not found"),
    ],
)
def test_doctor_bad_values_are_one_line_errors(place: Path, args: list[str], message: str) -> None:
    base = {"--user": "alice", "--password-file": str(place / "pw")}
    base[args[0]] = str(place / args[1]) if args[1] == "dir" else args[1]
    argv = ["doctor", "https://127.0.0.1:1/", *(x for kv in base.items() for x in kv)]
    code, stderr = _run(argv, place, "caldav_gateway.cmd_doctor.run_doctor")
    assert code == 2, stderr
    assert message in stderr and "Traceback" not in stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("keep_alive = 1e400", "keep_alive: expected a finite number greater than 0"),
        ("keep_alive = nan", "keep_alive: expected a finite number greater than 0"),
        ("workers = 100000000000000000000000", "workers: expected a whole number from 1 to 256"),
        ("[throttle]\nmax_delay = inf", "throttle.max_delay: expected a finite number"),
        ("[throttle]\nbase_delay = nan", "throttle.base_delay: expected a finite number"),
    ],
)
def test_serve_bad_numbers_are_one_line_errors(place: Path, setting: str, message: str) -> None:
    config = place / "numbers.toml"
    config.write_text(setting + "\n")
    code, stderr = _run(
        [*_base(place), "--config", str(config)], place, "caldav_gateway.server.bind"
    )
    assert code == 2 and message in stderr, stderr


def test_an_htpasswd_directory_is_named_as_such(place: Path) -> None:
    code, stderr = _run(
        [*_base(place), "--htpasswd", str(place / "dir")], place, "caldav_gateway.server.bind"
    )
    assert code == 2, stderr
    assert "cannot read the htpasswd file (Is a directory)" in stderr
    assert "cannot listen" not in stderr
