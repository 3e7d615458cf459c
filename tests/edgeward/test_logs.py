"""Logging set-up: text and JSON lines, ``extra`` fields, levels, logger names."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from edgeward.logs import get_logger, setup_logging

pytestmark = pytest.mark.usefixtures("restore_root_logger")


def test_json_logs_carry_extra_fields() -> None:
    buf = io.StringIO()
    setup_logging("info", "json", stream=buf)
    get_logger("t").info("pushed %s", "printer1", extra={"printer": "printer1", "seconds": 1.5})
    line = json.loads(buf.getvalue().splitlines()[-1])
    assert line["msg"] == "pushed printer1"
    assert line["logger"] == "edgeward.t"
    assert line["level"] == "info"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert line["printer"] == "printer1" and line["seconds"] == 1.5
    assert "args" not in line and "levelno" not in line  # LogRecord's own attributes stay out
    setup_logging("warning")
    assert logging.getLogger().level == logging.WARNING


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (3, 3),
        (True, True),
        (None, None),
        (b"\x80", "b'\\x80'"),  # anything not JSON-native is written as its str()
        (object, "<class 'object'>"),
    ],
)
def test_json_extra_values_are_json_native_or_text(value: object, written: object) -> None:
    buf = io.StringIO()
    setup_logging("debug", "json", stream=buf)
    get_logger("t").debug("x", extra={"value": value})
    assert json.loads(buf.getvalue())["value"] == written


def test_json_logs_carry_the_exception() -> None:
    buf = io.StringIO()
    setup_logging("info", "json", stream=buf)
    try:
        raise ValueError("boom")
    except ValueError:
        get_logger("t").exception("failed")
    line = json.loads(buf.getvalue())
    assert "ValueError: boom" in line["exc"] and len(buf.getvalue().splitlines()) == 1


@pytest.mark.parametrize(
    ("level", "shown", "hidden"),
    [("debug", "debug", None), ("info", "info", "debug"), ("error", "error", "warning")],
)
def test_text_logs_respect_the_level(level: str, shown: str, hidden: str | None) -> None:
    buf = io.StringIO()
    setup_logging(level, "text", stream=buf)
    log = get_logger("printer_sync.push")
    getattr(log, shown)("shown line")
    if hidden:
        getattr(log, hidden)("hidden line")
    text = buf.getvalue()
    assert re.search(r"^\d\d:\d\d:\d\d \w+ +edgeward\.printer_sync\.push: shown line$", text, re.M)
    assert "hidden line" not in text


def test_setup_replaces_handlers_and_quiets_uvicorn_access() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("info", stream=first)
    setup_logging("info", stream=second)
    get_logger("t").info("once")
    assert first.getvalue() == "" and "once" in second.getvalue()
    assert logging.getLogger("uvicorn.access").level == logging.WARNING
