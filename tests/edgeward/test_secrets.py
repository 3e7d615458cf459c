from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

from edgeward.secrets import Secret, read_secret_env, read_secret_file

VALUE = "correct-horse-battery-staple"


def percent_format(s: object) -> str:
    return "%s" % (s,)  # noqa: UP031


@pytest.mark.parametrize(
    "render",
    [str, repr, lambda s: f"{s}", lambda s: f"{s!r}", percent_format, lambda s: str([s])],
)
def test_never_renders_its_value(render: object) -> None:
    assert VALUE not in render(Secret(VALUE))  # type: ignore[operator]


def test_logging_and_pickle_do_not_leak(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("password is %s", Secret(VALUE))
    assert VALUE not in caplog.text
    with pytest.raises(TypeError):
        pickle.dumps(Secret(VALUE))


def test_equality_and_reveal() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret(VALUE).reveal() == VALUE


def test_read_file_errors_name_file_not_content(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text(VALUE + "\nsecond line\n")
    assert read_secret_file(f).reveal() == VALUE
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        read_secret_file(empty)
    with pytest.raises(ValueError, match="not found"):
        read_secret_file(tmp_path / "nope")


def test_read_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEWARD_TEST_PW", VALUE)
    assert read_secret_env("EDGEWARD_TEST_PW").reveal() == VALUE
    monkeypatch.delenv("EDGEWARD_TEST_PW")
    with pytest.raises(ValueError, match="EDGEWARD_TEST_PW"):
        read_secret_env("EDGEWARD_TEST_PW")
