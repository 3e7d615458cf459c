"""The named failure kinds: which are retried, and what an error says."""

from __future__ import annotations

import re

import pytest

from printer_sync.errors import RETRYABLE, ErrorKind, PushError

# Only waiting can change these answers; a retry of any other kind repeats the failure
# (or, for a wrong password, walks the printer into its lockout).
RETRIED = {ErrorKind.UNREACHABLE, ErrorKind.RATE_LIMITED, ErrorKind.CONNECTION_RESET}


@pytest.mark.parametrize("kind", list(ErrorKind), ids=str)
def test_retryable_only_where_waiting_helps(kind: ErrorKind) -> None:
    assert PushError(kind, "x").retryable is (kind in RETRIED)
    assert (kind in RETRYABLE) is (kind in RETRIED)


@pytest.mark.parametrize("kind", list(ErrorKind), ids=str)
def test_kinds_are_bounded_snake_case_labels(kind: ErrorKind) -> None:
    # They are metric labels and history values: grep-able, no spaces or capitals.
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", kind.value)
    assert str(kind) == kind.value


def test_kind_values_are_unique() -> None:
    values = [k.value for k in ErrorKind]
    assert len(values) == len(set(values))


@pytest.mark.parametrize(
    ("kind", "message", "text"),
    [
        (ErrorKind.WRONG_PASSWORD, "the printer refused the login", "wrong_password: the printer"),
        (ErrorKind.REBOOT_TIMEOUT, "no answer after 180 s", "reboot_timeout: no answer after"),
        (ErrorKind.UNKNOWN_DRIVER, "", "unknown_driver: "),
    ],
)
def test_the_error_carries_kind_and_sentence(kind: ErrorKind, message: str, text: str) -> None:
    exc = PushError(kind, message)
    assert str(exc).startswith(text)
    assert exc.kind is kind and exc.message == message
