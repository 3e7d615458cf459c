"""The named ways a push can fail.

Every failure a push can meet has one :class:`ErrorKind`; the kind is what history rows,
metric labels and exit messages carry, so an operator can grep for ``wrong_password`` or
alert on ``reboot_timeout`` without parsing prose. The set is closed (bounded metric labels).
"""

from __future__ import annotations

import enum


class ErrorKind(enum.StrEnum):
    # local files, found before anything is sent
    FILE_MISSING = "file_missing"
    FILE_INCOMPLETE = "file_incomplete"
    KEY_MISMATCH = "key_mismatch"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    CHAIN_INVALID = "chain_invalid"
    CHAIN_TOO_LONG = "chain_too_long"
    KEY_UNSUPPORTED = "key_unsupported"
    # trust in the printer's TLS
    PIN_CHANGED = "pin_changed"
    TLS_UNTRUSTED = "tls_untrusted"
    # what the printer answered (or did not)
    UNREACHABLE = "unreachable"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105 (an error name)
    RATE_LIMITED = "rate_limited"
    MISSING_TOKEN = "missing_token"  # noqa: S105 (an error name)
    UPLOAD_REFUSED = "upload_refused"
    CA_IMPORT_REFUSED = "ca_import_refused"
    CONNECTION_RESET = "connection_reset"
    UNEXPECTED_ANSWER = "unexpected_answer"
    ANSWER_TOO_LARGE = "answer_too_large"  # more than a Web Config page can weigh
    REBOOT_TIMEOUT = "reboot_timeout"
    OLD_CERTIFICATE = "old_certificate"
    UNKNOWN_DRIVER = "unknown_driver"
    PUSH_TIMEOUT = "push_timeout"  # the whole push outlived its deadline (push_timeout)
    INTERNAL = "internal"


# Kinds where waiting and trying again can change the answer.
RETRYABLE = frozenset({ErrorKind.UNREACHABLE, ErrorKind.RATE_LIMITED, ErrorKind.CONNECTION_RESET})


class PushError(Exception):
    """A failure with a kind and a sentence for the operator (never holds a secret)."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE
