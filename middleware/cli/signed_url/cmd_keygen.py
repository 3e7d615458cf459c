"""``signed-url keygen``: a fresh key line, printed or appended to a private file."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from datetime import UTC, datetime

from edgeward.cli import EXIT_OK, UsageError
from middleware.signed.keyring import KeyFileError, new_key_line

HELP = "make a fresh '<kid> <secret>' line (32 random bytes)"
EPILOG = """\
examples:
  signed-url keygen --kid 2026-12 --out /etc/edgeward/keys.txt
  signed-url keygen                 # print the line instead
"""


def add_arguments(keygen: argparse.ArgumentParser) -> None:
    keygen.add_argument(
        "--kid",
        default=datetime.now(UTC).strftime("%Y-%m"),
        help="key id: 1-32 of A-Z a-z 0-9 . _ - (default: this month, which makes "
        "rotation easy to follow)",
    )
    keygen.add_argument(
        "--out",
        metavar="FILE",
        help="append the line to FILE, created readable by its owner only (0600); "
        "without it the line is printed",
    )


def run(args: argparse.Namespace) -> int:
    try:
        line = new_key_line(args.kid)
    except KeyFileError as exc:
        raise UsageError(f"--kid: {exc}") from None
    if args.out is None:
        print(line)
        return EXIT_OK
    _append_private(args.out, line)
    print(f"key {args.kid} appended to {args.out}", file=sys.stderr)
    return EXIT_OK


def _append_private(path: str, line: str) -> None:
    """Append ``line`` to ``path``, a regular file created with mode 0600 (an existing one
    that others can read is refused: a signing key must not be shared by accident)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except (OSError, ValueError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UsageError(f"--out {path}: {detail}") from None
    with os.fdopen(fd, "a", encoding="ascii") as out:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"--out {path}: not a regular file")
        if st.st_mode & 0o077:
            raise UsageError(f"--out {path}: readable by group or others; chmod 600 it first")
        if st.st_size and not _ends_with_newline(path):
            out.write("\n")
        out.write(line + "\n")


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
