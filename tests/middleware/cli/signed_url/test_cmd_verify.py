"""``signed-url verify``: exit 0 valid, 1 invalid with the reason; the text and JSON
verdicts; a full URL or a request-target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from middleware.cli.signed_url.cmd_verify import as_json, describe, request_target
from middleware.corruption.classify import Finding
from middleware.signed.native import sign_url
from middleware.signed.outcome import Verdict
from tests.support.signed_url import NGINX, RING, run


@pytest.mark.parametrize(
    "url",
    [
        sign_url("/media/x", RING, expires_at=253402300800),  # past year 9999
        sign_url("/media/x", RING, expires_at=99999999999999999),
        "http://example.org" + sign_url("/media/x", RING, expires_at=253402300799),
    ],
)
def test_verify_far_future_native_links(files: dict[str, Path], url: str) -> None:
    code, out, _ = run("verify", "--keys", str(files["keys"]), url)
    assert code == 0 and out.startswith("valid")


def test_verify_far_future_nginx_link(files: dict[str, Path]) -> None:
    url = NGINX.sign("/s/x", expires_at=9223372036854775807, remote_addr="127.0.0.1")
    argv = ["--scheme", "nginx", "--secret-file", str(files["secret"]), "--remote-addr"]
    code, out, _ = run("verify", *argv, "127.0.0.1", url)
    assert code == 0 and "after year 9999" in out


def test_verify_json(files: dict[str, Path]) -> None:
    url = sign_url("/media/x?w=1", RING, expires_at=4102444800)
    code, out, _ = run("verify", "--json", "--keys", str(files["keys"]), url)
    verdict = json.loads(out)
    assert code == 0
    assert verdict == {
        "result": "valid", "ok": True, "reason": "signature valid", "kid": "k1",
        "exp": 4102444800, "exp_utc": "2100-01-01T00:00:00Z", "target": "/media/x?w=1",
        "finding": None,
    }  # fmt: skip
    code, out, _ = run("verify", "--json", "--keys", str(files["keys"]), url.replace("/x", "/y"))
    assert code == 1 and json.loads(out)["result"] == "bad_signature"


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("/a?b=1", b"/a?b=1"),
        ("https://example.org/a?b=1", b"/a?b=1"),
        ("http://example.org", b"/"),
        ("https://example.org/a#frag", b"/a"),
        ("/\udc80x", b"/\x80x"),  # an undecodable argv byte stays that byte
    ],
)
def test_request_target(url: str, target: bytes) -> None:
    assert request_target(url) == target


@pytest.mark.parametrize("url", ["a/b", "ftp://example.org/x", "", "http://[::1/x"])
def test_request_target_refuses_what_is_not_one(url: str) -> None:
    from edgeward.cli import UsageError

    with pytest.raises(UsageError, match=r"^URL: "):
        request_target(url)


@pytest.mark.parametrize(
    ("verdict", "now", "text"),
    [
        (Verdict("valid", b"/x", "k1", None), 0, "valid (signature valid) kid=k1 exp=never"),
        (Verdict("valid", b"/x", "k1", 7200), 0,
         "valid (signature valid) kid=k1 exp=7200 (1970-01-01T02:00:00Z, in 2 h)"),
        (Verdict("expired", b"", "k1", 100), 190,
         "invalid: expired (link has expired) kid=k1 exp=100 (1970-01-01T00:01:40Z, 1 min ago)"),
        (Verdict("bad_signature"), 0, "invalid: bad_signature (signature does not match)"),
        (Verdict("corrupted", finding=Finding("dpi_signature", 5, "8001", False)), 0,
         "invalid: corrupted (signature does not match and the URL carries corruption "
         "markers) finding=dpi_signature offset=5 evidence=8001"),
    ],
)  # fmt: skip
def test_describe(verdict: Verdict, now: float, text: str) -> None:
    assert describe(verdict, now) == text


def test_as_json_shows_the_target_only_when_valid() -> None:
    assert as_json(Verdict("bad_signature", b"/x", "k1", 5))["target"] is None
    assert as_json(Verdict("valid", b"/\xff", None, None))["target"] == "/\\xff"
