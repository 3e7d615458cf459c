"""The nginx scheme in isolation: nginx's documented token, $uri, $arg_*, the token decoder."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeward.secrets import Secret
from middleware.signed.nginx_scheme import (
    NginxScheme,
    TemplateError,
    decode_token,
    nginx_uri,
    remote_addr_text,
    strip_params,
)
from middleware.signed.outcome import RESULTS
from middleware.signed.quoting import TargetError
from tests.support.signed_url import targets

DOCS = NginxScheme(Secret("secret"))
DOCS_URL = "/s/link?md5=_e4Nc3iduzkWRm01TBBNYw&expires=2147483647"
NOW = 2_000_000_000.0


def test_nginx_docs_example_is_a_vector() -> None:
    assert DOCS.token(2147483647, b"/s/link", "127.0.0.1") == "_e4Nc3iduzkWRm01TBBNYw"
    assert DOCS.sign("/s/link", expires_at=2147483647, remote_addr="127.0.0.1") == DOCS_URL
    verdict = DOCS.verify(DOCS_URL.encode(), "127.0.0.1", now=NOW)
    assert (verdict.result, verdict.exp, verdict.kid, verdict.target) == (
        "valid",
        2147483647,
        None,
        b"/s/link",
    )


@pytest.mark.parametrize(
    ("raw", "uri"),
    [
        (b"/s/link", b"/s/link"),
        (b"/s/%6Cink", b"/s/link"),
        (b"/s/a%20b", b"/s/a b"),
        (b"//s///link", b"/s/link"),
        (b"/s/./link", b"/s/link"),
        (b"/s/x/../link", b"/s/link"),
        (b"/s/x/%2E%2E/link", b"/s/link"),
        (b"/s/link/", b"/s/link/"),
        (b"/s/a+b", b"/s/a+b"),  # "+" is not a space in a path
        (b"/", b"/"),
        (b"/..", None),
        (b"/s/%zz", None),
        (b"/s/%4", None),
    ],
)
def test_uri_like_nginx(raw: bytes, uri: bytes | None) -> None:
    assert nginx_uri(raw) == uri


@pytest.mark.parametrize(
    ("token", "ok"),
    [
        (b"_e4Nc3iduzkWRm01TBBNYw", True),
        (b"_e4Nc3iduzkWRm01TBBNYw==", True),  # padding allowed
        (b"_e4Nc3iduzkWRm01TBBNYw=x", True),  # nginx stops at "="
        (b"_e4Nc3iduzkWRm01TBBNYx", True),  # only the last char's unused bits differ
        (b"_e4Nc3iduzkWRm01TBBNY", False),  # 15 bytes
        (b"_e4Nc3iduzkWRm01TBBNYw===x", False),  # > 24 characters
        (b"+e4Nc3iduzkWRm01TBBNYw", False),  # not base64url
        (b"", False),
    ],
)
def test_token_decoder_like_nginx(token: bytes, ok: bool) -> None:
    raw = decode_token(token)
    assert (raw == bytes.fromhex("fdee0d73789dbb3916466d354c104d63")) is ok


CASES = [
    # (name, target, client, expected)
    ("valid", DOCS_URL, "127.0.0.1", "valid"),
    ("parameter names are case-insensitive", DOCS_URL.replace("md5", "MD5"), "127.0.0.1", "valid"),
    ("first md5 wins", DOCS_URL + "&md5=AAAA", "127.0.0.1", "valid"),
    ("other client address", DOCS_URL, "127.0.0.2", "bad_signature"),
    ("tampered path", DOCS_URL.replace("link", "linq"), "127.0.0.1", "bad_signature"),
    ("tampered token", DOCS_URL.replace("_e4N", "_e4M"), "127.0.0.1", "bad_signature"),
    ("extended expiry", DOCS_URL.replace("2147483647", "2147483648"), "127.0.0.1", "bad_signature"),
    ("expired", DOCS_URL, "127.0.0.1", "expired"),
    ("no parameters", "/s/link", "127.0.0.1", "missing"),
    ("no expires", "/s/link?md5=_e4Nc3iduzkWRm01TBBNYw", "127.0.0.1", "malformed"),
    ("no md5", "/s/link?expires=2147483647", "127.0.0.1", "malformed"),
    ("expires zero", "/s/link?md5=_e4Nc3iduzkWRm01TBBNYw&expires=0", "127.0.0.1", "malformed"),
    ("expires not digits", "/s/link?md5=x&expires=-5", "127.0.0.1", "malformed"),
    ("token too long", "/s/link?md5=" + "A" * 25 + "&expires=5", "127.0.0.1", "malformed"),
    ("path nginx refuses", "/s/%zz?md5=_e4Nc3iduzkWRm01TBBNYw&expires=5", "127.0.0.1", "malformed"),
    ("corrupted", DOCS_URL.replace("link", "l%80%01k"), "127.0.0.1", "corrupted"),
]


@pytest.mark.parametrize(
    ("target", "client", "expected"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
def test_every_outcome(target: str, client: str, expected: str) -> None:
    now = 2**31 + 10 if expected == "expired" else NOW
    assert DOCS.verify(target.encode(), client, now=now).result == expected


def test_leeway_and_stripping() -> None:
    assert DOCS.verify(DOCS_URL.encode(), "127.0.0.1", now=2147483647 + 30, leeway=30).ok
    assert not DOCS.verify(DOCS_URL.encode(), "127.0.0.1", now=2147483647 + 31, leeway=30).ok
    assert strip_params(b"/a?x=1&MD5=t&y=2&Expires=3", (b"md5", b"expires")) == b"/a?x=1&y=2"
    assert strip_params(b"/a?md5=t&expires=3", (b"md5", b"expires")) == b"/a"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{expires}{uri}", "must contain {secret}"),
        ("{uri}{remote_addr} {secret}", "must contain {expires}"),
        ("{expires}{host} {secret}", "{host} unknown"),
        ("{expires!r} {secret}", "unknown"),
        ("{expires {secret}", "template"),
    ],
)
def test_template_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=None) as info:
        NginxScheme(Secret("secret"), template)
    assert message in str(info.value)


def test_secret_never_shows() -> None:
    scheme = NginxScheme(Secret("hunter2-nginx"), "{expires}{uri} {secret}")
    assert "hunter2" not in repr(scheme) + str(scheme)
    with pytest.raises(TargetError) as info:
        scheme.sign("/s/a?md5=1", expires_at=5)
    assert "hunter2" not in str(info.value)


@settings(max_examples=100)
@given(target=targets)
def test_round_trip(target: str) -> None:
    scheme = NginxScheme(Secret("s3cret"))
    try:
        url = scheme.sign(target, expires_at=2147483647, remote_addr="::1")
    except TargetError:
        return  # a path nginx itself refuses ("/.."), or md5/expires already present
    verdict = scheme.verify(url.encode(), "::1", now=NOW)
    assert verdict.result == "valid"
    assert verdict.target == strip_params(target.encode(), (b"md5", b"expires"))
    assert scheme.verify(url.encode(), "::2", now=NOW).result in ("bad_signature", "corrupted")


@pytest.mark.parametrize(
    "target",
    ["/s/a%00b", "/s/a#b", "/s/a%", "/s/a%zz", "/../s/a", "/s/%2e%2e/%2e%2e/x", "s/a"],
)
def test_sign_refuses_what_nginx_refuses(target: str) -> None:
    with pytest.raises(TargetError):
        DOCS.sign(target, expires_at=2147483647, remote_addr="127.0.0.1")


@pytest.mark.parametrize("expires_at", [0, -5, 2**63])
def test_sign_refuses_an_expiry_nginx_cannot_hold(expires_at: int) -> None:
    with pytest.raises(ValueError, match="unix time"):
        DOCS.sign("/s/a", expires_at=expires_at)


@pytest.mark.parametrize(
    ("expires", "signed_over", "result"),
    [
        (b"02147483647", b"02147483647", "valid"),  # hashed as written
        (b"02147483647", b"2147483647", "bad_signature"),  # never str(int(...))
        (b"00000000002147483647", b"00000000002147483647", "valid"),  # 20 digits
        (b"9223372036854775807", b"9223372036854775807", "valid"),  # nginx's largest time_t
        (b"9223372036854775808", b"9223372036854775808", "malformed"),
        (b"1" + b"0" * 19, b"1" + b"0" * 19, "malformed"),
    ],
)
def test_expires_is_hashed_as_written(expires: bytes, signed_over: bytes, result: str) -> None:
    token = DOCS.token(signed_over, b"/s/link", "127.0.0.1").encode()
    target = b"/s/link?md5=" + token + b"&expires=" + expires
    assert DOCS.verify(target, "127.0.0.1", now=NOW).result == result


_EXPIRIES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["9223372036854775807", "99999999999999999", "253402300800", "0" * 30, ""]),
    st.text("0123456789+-e.,#%", max_size=25),
)


@settings(max_examples=300)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda path, exp, token, tail: f"{path}?md5={token}&expires={exp}{tail}".encode(
                "utf-8", "surrogatepass"
            ),
            st.sampled_from(["/s/link", "/s/a%00b", "/s/a#b", "/s/%", "/s/../..", "/s/é"]),
            _EXPIRIES,
            st.text(max_size=30),
            st.text(max_size=10),
        ),
    ),
    st.sampled_from(["127.0.0.1", "::1", "", "x\udcff"]),
    st.floats(allow_nan=True, allow_infinity=True),
)
def test_verify_never_raises(target: bytes, client: str, now: float) -> None:
    assert DOCS.verify(target, client, now=now).result in RESULTS


@pytest.mark.parametrize(
    ("address", "nginx_spells"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("0:0:0:0:0:ffff:7f00:1", "::ffff:127.0.0.1"),  # Python: ::ffff:7f00:1
        ("::102:304", "::1.2.3.4"),  # under ::/96: dotted
        ("::1", "::1"),  # but not ::1 ...
        ("::ff", "::ff"),  # ... nor ::N below 256 ...
        ("::101", "::101"),  # ... nor any ::N whose last byte is 1 (nginx's test)
        ("::100", "::0.0.1.0"),
        ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  # the first longest run
        ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),  # a lone zero group stays
        ("fe80::1:0:0:0", "fe80::1:0:0:0"),
    ],
)
def test_remote_addr_text(address: str, nginx_spells: str) -> None:
    assert remote_addr_text(address) == nginx_spells


@given(st.ip_addresses())
def test_remote_addr_text_names_the_same_address(address: object) -> None:
    text = remote_addr_text(str(address))
    assert ipaddress.ip_address(text) == address
