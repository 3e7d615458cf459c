"""``signed-url sign``: the signed URL for a request-target, in either scheme; what the
scheme refuses is one line naming TARGET."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from middleware.signed.native import verify_url
from tests.support.signed_url import NGINX, RING, run

NGINX_ARGS = ["--scheme", "nginx", "--secret-file", "{secret}", "--remote-addr", "127.0.0.1"]


def _argv(files: dict[str, Path], *argv: str) -> list[str]:
    return [str(files[a[1:-1]]) if a[:1] == "{" and a[1:-1] in files else a for a in argv]


@pytest.mark.parametrize(
    ("extra", "exp"),
    [
        ([], None),  # native links never expire unless asked
        (["--expires-at", "4102444800"], 4102444800),
        (["--expires-in", "600"], "now+600"),
    ],
)
def test_sign_native_verifies(files: dict[str, Path], extra: list[str], exp: object) -> None:
    before = int(time.time())
    code, out, _ = run(*_argv(files, "sign", "--keys", "{keys}", *extra, "/media/x?w=640"))
    assert code == 0
    url = out.strip()
    verdict = verify_url(url.encode(), RING, now=before)
    assert verdict.ok and verdict.target == b"/media/x?w=640" and verdict.kid == "k1"
    if exp == "now+600":
        assert verdict.exp is not None and before + 600 <= verdict.exp <= int(time.time()) + 600
    else:
        assert verdict.exp == exp


@pytest.mark.parametrize(
    ("extra", "expires"),
    [
        (["--expires-at", "2147483647"], 2147483647),
        ([], "now+3600"),  # nginx links always expire: an hour by default
    ],
)
def test_sign_nginx_verifies(files: dict[str, Path], extra: list[str], expires: object) -> None:
    before = int(time.time())
    code, out, _ = run(*_argv(files, "sign", *NGINX_ARGS, *extra, "/s/link"))
    assert code == 0
    url = out.strip()
    assert NGINX.verify(url.encode(), "127.0.0.1", now=before).ok
    got = int(parse_qs(urlsplit(url).query)["expires"][0])
    if expires == "now+3600":
        assert before + 3600 <= got <= int(time.time()) + 3600
    else:
        assert got == expires


@pytest.mark.parametrize(
    ("target", "signed_path"),
    [
        ("/media/a b/été.png", "/media/a%20b/%C3%A9t%C3%A9.png"),
        ("/m/a b?w=1", "/m/a%20b"),
    ],
)
def test_sign_quote_encodes_the_path(files: dict[str, Path], target: str, signed_path: str) -> None:
    code, out, _ = run(*_argv(files, "sign", "--keys", "{keys}", "--quote", target))
    url = out.strip()
    assert code == 0 and urlsplit(url).path == signed_path
    assert verify_url(url.encode(), RING).ok


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["sign", "--keys", "{keys}", "media/x"], "error: TARGET:"),
        (["sign", "--keys", "{keys}", "--quote", "/m/x?w=1 2"], "error: TARGET:"),  # path only
        (["sign", *NGINX_ARGS, "/s/a%00b"], "error: TARGET:"),
        (["sign", "/m/x"], "needs --keys FILE"),
        (["sign", "--keys", "{keys}", "--expires-in", "1", "--expires-at", "2", "/m/x"],
         "not allowed with argument"),
    ],
)  # fmt: skip
def test_sign_refusals_exit_2(files: dict[str, Path], argv: list[str], says: str) -> None:
    code, out, err = run(*_argv(files, *argv))
    assert code == 2 and says in err and out == ""
