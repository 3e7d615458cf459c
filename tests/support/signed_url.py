"""Signed URLs for the tests: the keys they sign with, test vectors, hypothesis strategies
for targets (names and values close to the signing parameters), and ``signed-url`` run
in-process as a user runs it."""

from __future__ import annotations

import contextlib
import io
from typing import Final

from hypothesis import strategies as st

from edgeward.secrets import Secret
from middleware.cli.signed_url import main
from middleware.signed.keyring import KeyRing
from middleware.signed.nginx_scheme import NginxScheme

# The keys the tests sign with: base64url of the bytes (as a key file holds them).
VECTOR_SECRET = "c2VjcmV0LWtleS1mb3ItdGVzdC12ZWN0b3JzLTAwMDE"
VECTOR_SECRET_BYTES = b"secret-key-for-test-vectors-0001"
OTHER_SECRET = "b3RoZXIta2V5LWZvci1yb3RhdGlvbi10ZXN0cy0wMDAy"  # other-key-for-rotation-tests-0002
NOW = 1_800_000_000.0  # before the vectors' exp=1893456000

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


# Test vectors: (kid, target, exp, the signed URL under VECTOR_SECRET).
VECTORS = [
    (
        "k1",
        "/media/cat.jpg?w=640",
        1893456000,
        "/media/cat.jpg?w=640&exp=1893456000&kid=k1&sig=TMcIkLTxPEOGj13GmfqCAzO76DSMvvZL8Uw3K3HxG3s",
    ),
    (
        "k1",
        "/media/a%20b/%C3%A9t%C3%A9.png",
        None,
        "/media/a%20b/%C3%A9t%C3%A9.png?kid=k1&sig=FjddKeltDaVhb5uPeVJ--x-a0TwBa5TKicOXEkJH_Wk",
    ),
    (
        "2026-11",
        "/dl/report.pdf",
        1893456000,
        "/dl/report.pdf?exp=1893456000&kid=2026-11&sig=w9yJ8tveTnuCg8zBjiwfKZVBT0u8sxGLxCopNjuxsD4",
    ),
]


_PCHARS = "abcXYZ019-._~!$'()*+,;:@"


_segment = st.lists(
    st.one_of(st.sampled_from(list(_PCHARS)), st.sampled_from(["%20", "%C3%A9", "%2F", "%80"])),
    max_size=8,
).map("".join)


_path = st.lists(_segment, min_size=1, max_size=4).map(lambda s: "/" + "/".join(s))


_param = st.tuples(
    st.text("abexpkidsg", min_size=1, max_size=4).filter(lambda n: n not in ("exp", "kid", "sig")),
    st.text(_PCHARS + "/?=expkidsg0123456789", max_size=8),
).map(lambda kv: f"{kv[0]}={kv[1]}")


_query = st.one_of(st.none(), st.just(""), st.lists(_param, min_size=1, max_size=4).map("&".join))


targets = st.builds(lambda p, q: p if q is None else f"{p}?{q}", _path, _query)


expiries = st.one_of(st.none(), st.integers(min_value=1, max_value=2**40))
