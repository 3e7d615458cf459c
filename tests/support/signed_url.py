"""``signed-url`` run in-process as a user runs it, with the keys the tests sign with."""

from __future__ import annotations

import contextlib
import io
from typing import Final

from edgeward.secrets import Secret
from middleware.cli.signed_url import main
from middleware.signed.keyring import KeyRing
from middleware.signed.nginx_scheme import NginxScheme
from tests.middleware.signed.conftest import VECTOR_SECRET

RING: Final = KeyRing.parse(f"k1 {VECTOR_SECRET}\n")
NGINX: Final = NginxScheme(Secret("secret"))  # the secret of the ``files`` fixture's file


def run(*argv: str) -> tuple[int, str, str]:
    """main(argv): exit code, stdout, stderr. stderr is a StringIO: a real stderr writes
    undecodable path bytes with backslashreplace, pytest's capture would refuse them."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's own errors
            code = int(exc.code or 0)
    out.getvalue().encode("utf-8")  # stdout is strict UTF-8 for real: must encode
    assert "Traceback" not in out.getvalue() + err.getvalue(), err.getvalue()
    return code, out.getvalue(), err.getvalue()
