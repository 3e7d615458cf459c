"""Must show (issue 11): arbitrary values for every dpi-report option never give a
traceback: either a report (exit 0) or exit 2 with one message naming the option.

Runs in-process (``main(argv)``) so hypothesis can try hundreds of command lines.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from middleware.cli.dpi_report import main

LOG = b'8.8.8.8 - - [27/Nov/2026:00:40:00 +0000] "GET /a\\x80\\x01 HTTP/1.1" 400 1 "-" "-"\n'


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="dpi-props-") as tmp:
        d = Path(tmp)
        (d / "access.log").write_bytes(LOG)
        (d / "junk.bin").write_bytes(bytes(range(256)))
        (d / "empty").write_bytes(b"")
        (d / "mode000").write_bytes(b"k1 c2VjcmV0\n")
        (d / "mode000").chmod(0)
        (d / "sub").mkdir()
        with contextlib.redirect_stderr(io.StringIO()):
            assert main(["--partial", str(d / "p.json"), str(d / "access.log")]) == 0
        logging.getLogger().handlers.clear()
        yield {
            "partial": str(d / "p.json"),
            "log": str(d / "access.log"),
            "junk": str(d / "junk.bin"),
            "empty": str(d / "empty"),
            "mode000": str(d / "mode000"),  # unreadable (to anyone but root)
            "dir": str(d / "sub"),
            "missing": str(d / "missing" / "x"),
            "html": str(d / "out.html"),
            "nonutf8": os.fsdecode(bytes(d / "x") + b"\xff\xfe.log"),
        }


NUMBERS = st.sampled_from(
    [
        "nan",
        "NaN",
        "inf",
        "-inf",
        "1e400",
        "-1",
        "0",
        "1",
        "0.5",
        "1e-300",
        "-0",
        str(10**30),
        "9" * 5000,
        "0x10",
        "",
        " ",
        "½",
        "1_000",
    ]
)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
SURROGATE = st.builds(lambda b: os.fsdecode(b), st.binary(min_size=1, max_size=12))
FILES = st.sampled_from(["log", "junk", "empty", "mode000", "dir", "missing", "nonutf8"])
OPTIONS = {
    "--alpha": NUMBERS,
    "--top": NUMBERS,
    "--max-tries": NUMBERS,
    "--recover-max": NUMBERS,
    "--recover-seconds": NUMBERS,
    "--trusted-proxy": st.one_of(NUMBERS, TEXT, st.sampled_from(["10.0.0.0/8", "::1/200"])),
    "--asn-table": FILES,
    "--keys": FILES,
    "--html": st.sampled_from(["log", "dir", "missing", "html", "nonutf8"]),  # "log": an input
    "--partial": st.sampled_from(["log", "dir", "missing", "html", "nonutf8"]),
    "--log-level": st.one_of(TEXT, st.just("debug")),
    "--log-format": st.one_of(TEXT, st.just("json")),
}


def call(argv: list[str], cwd: str) -> tuple[int, str]:
    err = io.StringIO()
    with (
        contextlib.chdir(cwd),  # relative paths never land in the repository
        contextlib.redirect_stderr(err),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own errors
            code = int(exc.code or 0)
    logging.getLogger().handlers.clear()  # the handler held our StringIO
    return code, err.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    option=st.sampled_from(sorted(OPTIONS)),
    data=st.data(),
    odd=st.one_of(st.none(), SURROGATE, TEXT),
)
def test_any_value_of_any_option_is_a_report_or_exit_2_naming_it(
    world: dict[str, str], option: str, data: st.DataObject, odd: str | None
) -> None:
    value = data.draw(OPTIONS[option])
    value = world.get(value, value)
    if odd is not None and data.draw(st.booleans()):
        value = odd  # arbitrary text, or bytes that are not UTF-8 (surrogate-escaped)
        if option == "--html":  # it writes: keep it inside the test's folder
            value = os.path.join(world["dir"], value.replace("/", "_") or "_")
    code, err = call([f"{option}={value}" if value.startswith("-") else option, value][:1]
                     + ([] if value.startswith("-") else [value])
                     + ["--no-progress", world["log"]], world["dir"])  # fmt: skip
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert option in err, err


@settings(max_examples=100, deadline=None)
@given(inputs=st.lists(st.one_of(FILES, SURROGATE, TEXT), min_size=1, max_size=3))
def test_any_input_path_is_a_report_or_exit_2_naming_it(
    world: dict[str, str], inputs: list[str]
) -> None:
    paths = [world.get(p, p) or "''" for p in inputs]
    paths = [p if not p.startswith("-") else "./" + p for p in paths]
    code, err = call(["--no-progress", *paths], world["dir"])
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("error: ")


TOOL_OPTIONS = {
    ("demo-log", "--lines"): NUMBERS,
    ("demo-log", "--seed"): NUMBERS,
    ("demo-log", "--corrupted"): NUMBERS,
    ("demo-log", "--networks"): NUMBERS,
    ("demo-log", "--hours"): NUMBERS,
    ("demo-log", "--table"): st.sampled_from(["dir", "missing", "nonutf8"]),
    ("fetch-table", "--timeout"): NUMBERS,
    ("fetch-table", "--max-bytes"): NUMBERS,
    ("merge", "--alpha"): NUMBERS,
    ("merge", "--top"): NUMBERS,
    ("merge", "--recover-seconds"): NUMBERS,
    ("merge", "--keys"): FILES,
    ("merge", "--partial"): st.sampled_from(["partial", "dir", "missing", "html", "nonutf8"]),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(TOOL_OPTIONS)), data=st.data())
def test_any_value_of_a_commands_option_is_done_or_exit_2_naming_it(
    world: dict[str, str], key: tuple[str, str], data: st.DataObject
) -> None:
    command, option = key
    value = world.get(v := data.draw(TOOL_OPTIONS[key]), v)
    if command == "demo-log":
        # Few lines whatever else is asked, so a valid draw stays quick.
        small = [] if option == "--lines" else ["--lines", "50"]
        argv = [command, os.path.join(world["dir"], "demo.log"), *small]
    elif command == "merge":
        argv = [command, world["partial"]]
    else:  # a port nothing listens on: a valid draw fails to download (exit 1)
        argv = [command, "http://127.0.0.1:9/t.tsv", os.path.join(world["dir"], "t.tsv")]
    code, err = call([*argv, f"{option}={value}"], world["dir"])
    assert code in ((1, 2) if command == "fetch-table" else (0, 2)), err
    assert "Traceback" not in err
    if code == 2:
        assert option in err, err
