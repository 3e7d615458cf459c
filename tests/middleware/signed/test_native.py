"""The native scheme: the issue's exact format, its three vectors, every outcome."""

from __future__ import annotations

import base64
import hmac

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from middleware.signed.keyring import KeyRing
from middleware.signed.native import _verify_plain, sign_url, verify_url
from middleware.signed.quoting import TargetError
from tests.support.signed_url import (
    NOW,
    OTHER_SECRET,
    VECTOR_SECRET,
    VECTOR_SECRET_BYTES,
    VECTORS,
    expiries,
    targets,
)

VALID = VECTORS[0][3]


@pytest.mark.parametrize(("kid", "target", "exp", "url"), VECTORS)
def test_vectors_sign_and_verify(kid: str, target: str, exp: int | None, url: str) -> None:
    ring = KeyRing.parse(f"{kid} {VECTOR_SECRET}")
    assert sign_url(target, ring, expires_at=exp) == url
    verdict = verify_url(url, ring, now=NOW)
    assert verdict.result == "valid"
    assert (verdict.kid, verdict.exp, verdict.target) == (kid, exp, target.encode())
    assert verify_url(url.encode(), ring, now=NOW).result == "valid"


def test_expires_in_counts_from_now(ring: KeyRing) -> None:
    url = sign_url("/media/x", ring, expires_in=60, now=1000.0)
    assert "?exp=1060&kid=k1&sig=" in url


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("media/cat.jpg", "must start with '/'"),
        ("https://example.org/media/cat.jpg", "must start with '/'"),
        ("/media/été.png", "not ASCII"),
        ("/media/a b.png", "' ' at offset 8"),
        ("/media/a.png#top", "fragment"),
        ("/media/100%.png", "bad percent escape"),
        ("/media/%zz.png", "bad percent escape"),
        ('/media/a.png?x="1"', "'\"' at offset"),
        ("/media/a.png?exp=1", "exp"),
        ("/media/a.png?w=1&kid=k1", "kid"),
        ("/media/a.png?sig", "sig"),
        ("", "must start with '/'"),
    ],
)
def test_sign_refuses_bad_targets(ring: KeyRing, target: str, message: str) -> None:
    with pytest.raises(TargetError, match=None) as info:
        sign_url(target, ring)
    assert message in str(info.value)


def test_sign_refuses_two_expiries(ring: KeyRing) -> None:
    with pytest.raises(ValueError, match="not both"):
        sign_url("/x", ring, expires_at=5, expires_in=5)


def _swap(url: str, old: str, new: str) -> str:
    assert old in url
    return url.replace(old, new, 1)


OUTCOMES = [
    # (name, url, now, leeway, expected result)
    ("valid", VALID, NOW, 0, "valid"),
    ("valid at the exact expiry second", VALID, 1893456000, 0, "valid"),
    ("expired by one second", VALID, 1893456001, 0, "expired"),
    ("expired but within leeway", VALID, 1893456020, 30, "valid"),
    ("expired beyond leeway", VALID, 1893456031, 30, "expired"),
    ("no query at all", "/media/cat.jpg", NOW, 0, "missing"),
    ("unsigned query", "/media/cat.jpg?w=640", NOW, 0, "missing"),
    ("param names that only contain sig", "/media/cat.jpg?mysig=1&kidney=2", NOW, 0, "missing"),
    ("sig not last", _swap(VALID, "&sig=", "&w=1&sig=") + "&x=1", NOW, 0, "malformed"),
    ("sig too short", VALID[:-1], NOW, 0, "malformed"),
    ("sig with a non-base64url byte", VALID[:-1] + "+", NOW, 0, "malformed"),
    ("sig with padding", VALID + "=", NOW, 0, "malformed"),
    ("no kid", _swap(VALID, "&kid=k1", ""), NOW, 0, "malformed"),
    ("kid with a bad character", _swap(VALID, "kid=k1", "kid=k!"), NOW, 0, "malformed"),
    ("exp not digits", _swap(VALID, "exp=1893456000", "exp=18934560x0"), NOW, 0, "malformed"),
    ("two sig params", _swap(VALID, "?w=640", "?sig=1&w=640"), NOW, 0, "malformed"),
    ("only sig", "/media/cat.jpg?sig=" + "A" * 43, NOW, 0, "malformed"),
    ("unknown key id", _swap(VALID, "kid=k1", "kid=k9"), NOW, 0, "unknown_key"),
    ("tampered path", _swap(VALID, "cat.jpg", "dog.jpg"), NOW, 0, "bad_signature"),
    ("tampered query", _swap(VALID, "w=640", "w=641"), NOW, 0, "bad_signature"),
    ("extended expiry", _swap(VALID, "exp=1893456000", "exp=1993456000"), NOW, 0, "bad_signature"),
    ("expiry removed", _swap(VALID, "exp=1893456000&", ""), NOW, 0, "bad_signature"),
    ("tampered signature", _swap(VALID, "sig=T", "sig=U"), NOW, 0, "bad_signature"),
    (
        "non-canonical base64 of the right MAC",  # last char: same 2 data bits, other padding
        VALID[:-1] + "t",
        NOW,
        0,
        "bad_signature",
    ),
    ("percent-encoding case changed", _swap(VECTORS[1][3], "%20", "%2a"), NOW, 0, "bad_signature"),
    # The corruption cases: same failures, but the target carries markers.
    ("dpi bytes over the path", _swap(VALID, "ca", "%80%01"), NOW, 0, "corrupted"),
    ("dpi bytes over the sig", _swap(VALID, "sig=TM", "sig=%80%04"), NOW, 0, "corrupted"),
    ("invalid utf-8 in the query", _swap(VALID, "w=640", "w=%C3"), NOW, 0, "corrupted"),
    ("control byte in an unsigned url", "/media/cat%01.jpg", NOW, 0, "corrupted"),
    ("raw latin-1 byte", _swap(VALID, "cat", "c\udce9t"), NOW, 0, "corrupted"),
    (
        "raw but valid utf-8 is not a marker",
        _swap(VALID, "cat", "c\u00e9t"),
        NOW,
        0,
        "bad_signature",
    ),
]


@pytest.mark.parametrize(
    ("url", "now", "leeway", "expected"),
    [pytest.param(u, n, lw, e, id=name) for name, u, n, lw, e in OUTCOMES],
)
def test_every_outcome(ring: KeyRing, url: str, now: float, leeway: int, expected: str) -> None:
    verdict = verify_url(url, ring, now=now, leeway=leeway)
    assert verdict.result == expected
    if expected == "corrupted":
        assert verdict.finding is not None
    if expected != "valid":
        assert not verdict.ok


def test_expired_is_reported_only_for_a_matching_signature(ring: KeyRing) -> None:
    forged_and_expired = _swap(VALID, "cat.jpg", "dog.jpg")
    assert verify_url(forged_and_expired, ring, now=2e9).result == "bad_signature"
    assert verify_url(VALID, ring, now=2e9).result == "expired"


def test_rotation_first_key_signs_every_key_verifies(rotated: KeyRing) -> None:
    url = sign_url("/media/cat.jpg?w=640", rotated, expires_at=1893456000)
    assert "&kid=k2&" in url
    assert verify_url(url, rotated, now=NOW).kid == "k2"
    for _, _, _, old in VECTORS:  # links signed with the older keys keep working
        assert verify_url(old, rotated, now=NOW).result == "valid"
    retired = KeyRing.parse(f"k2 {OTHER_SECRET}")
    assert verify_url(VALID, retired, now=NOW).result == "unknown_key"


def test_a_question_mark_inside_a_value_is_not_the_exp_separator(ring: KeyRing) -> None:
    # "?exp=5" here is data inside the value of x, not a signing parameter.
    target = "/media/a?x=?exp=5"
    verdict = verify_url(sign_url(target, ring), ring, now=NOW)
    assert (verdict.result, verdict.exp, verdict.target) == ("valid", None, target.encode())


@pytest.mark.parametrize(
    "target",
    [
        "/a?x=exp=5",
        "/a?x=?exp=5",
        "/a?b=1&cexp=5",
        "/a?x=kid=k2",
        "/a?y=akid=k2&z=sig=1",
        "/a&sig=x/b",
        "/exp=5/kid=k1&sig=" + "A" * 43,
        "/a?x=1&",
        "/a?",
        "/a??",
        "/a?&",
    ],
)
@pytest.mark.parametrize("exp", [None, 99])
def test_round_trip_for_targets_that_look_like_signing_params(
    ring: KeyRing, target: str, exp: int | None
) -> None:
    verdict = verify_url(sign_url(target, ring, expires_at=exp), ring, now=0)
    assert (verdict.result, verdict.exp, verdict.target) == ("valid", exp, target.encode())


# --- properties ---------------------------------------------------------------

# Names and values close to the signing parameters ("xexp", "kid=..." inside a value).


@settings(max_examples=150)
@given(target=targets, exp=expiries)
def test_round_trip_for_any_valid_target(target: str, exp: int | None) -> None:
    ring = KeyRing.parse(f"k1 {VECTOR_SECRET}")
    url = sign_url(target, ring, expires_at=exp)
    assert url.rsplit("&", 1)[1].startswith("sig=")
    verdict = verify_url(url, ring, now=0)
    assert (verdict.result, verdict.kid, verdict.exp) == ("valid", "k1", exp)
    assert verdict.target == target.encode()


@settings(max_examples=150)
@given(target=targets, exp=expiries, data=st.data())
def test_any_single_byte_change_fails(target: str, exp: int | None, data: st.DataObject) -> None:
    ring = KeyRing.parse(f"k1 {VECTOR_SECRET}")
    url = bytearray(sign_url(target, ring, expires_at=exp).encode())
    i = data.draw(st.integers(0, len(url) - 1), label="offset")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != url[i]), label="byte")
    url[i] = new
    assert verify_url(bytes(url), ring, now=0).result != "valid"


@settings(max_examples=200)
@given(st.binary(max_size=120))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    ring = KeyRing.parse(f"k1 {VECTOR_SECRET}")
    for candidate in (raw, b"/media/" + raw, VALID.encode()[:40] + raw):
        assert verify_url(candidate, ring, now=NOW).result != "valid"


_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@settings(max_examples=300)
@given(
    secret=st.binary(min_size=16, max_size=100),
    body=st.binary(max_size=200),
    exp=st.none() | st.integers(0, 10**20),
    forged=st.none() | st.text(_B64URL, min_size=0, max_size=50),
)
def test_inlined_mac_accepts_exactly_the_standard_librarys_signature(
    secret: bytes, body: bytes, exp: int | None, forged: str | None
) -> None:
    """verify_url computes the MAC and its base64url inline (a hot-path copy of
    HmacSha256.b64url): it accepts a signature iff it is hmac.digest's, base64url without
    padding, over the exact bytes before "&sig=", for any bytes there."""
    ring = KeyRing.from_secrets([("k1", secret)])
    signed = b"/" + body + b"?" + (b"" if exp is None else b"exp=%d&" % exp) + b"kid=k1"
    reference = base64.urlsafe_b64encode(hmac.digest(secret, signed, "sha256")).rstrip(b"=")
    sig = reference if forged is None else forged.encode()
    verdict = verify_url(signed + b"&sig=" + sig, ring, now=0)
    assert (verdict.result in ("valid", "expired")) == (sig == reference)


# --- the hot path equals the plain parse -------------------------------------------------

# Pieces that make the parse from the end ambiguous: separators, parameter names inside
# values and paths, digits that int() reads but isdigit() refuses, known and unknown kids.
_PIECES = [
    "/", "a", "?", "&", "=", "exp", "kid", "sig", "exp=", "kid=", "&exp=", "?exp=",
    "&kid=", "?kid=", "k1", "k2", "zz", "0", "12", "4000000000", "+7", "1_0", " ", "%80%01",
]  # fmt: skip
_PREFIXES = ["", "/a", "/a?x=1", "/a?x?", "/a&kid=x", "/a?kid=k1", "/a&exp=5"]
_signed_bodies = st.builds(
    str.__add__,
    st.sampled_from(_PREFIXES),
    st.lists(st.sampled_from(_PIECES), max_size=8).map("".join),
)
_exps = st.sampled_from(["", "&exp=99", "?exp=99", "exp=99", "&exp=", "&exp=+7", "?exp=1_0"])
_kids = st.sampled_from(["", "&kid=k1", "?kid=k1", "kid=k1", "&kid=k2", "&kid=zz", "&kid="])


@settings(max_examples=500)
# Shapes where only one branch of the hot path decides (each example fails a variant of
# verify_url that lacks that branch).
@example(body="/a?x", exp="?exp=99", kid="&kid=k1", mac_valid=True, now=0.0, leeway=0)
@example(body="/a&kid=x", exp="&exp=99", kid="?kid=k1", mac_valid=True, now=0.0, leeway=0)
@example(body="/a", exp="&exp=99", kid="?kid=k1", mac_valid=True, now=0.0, leeway=0)
@example(body="/a?x=1", exp="&exp=+7", kid="&kid=k1", mac_valid=True, now=0.0, leeway=0)
@example(body="/a", exp="?exp=99", kid="&kid=k1", mac_valid=True, now=100.0, leeway=0)
@example(body="12", exp="", kid="&kid=k1", mac_valid=True, now=0.0, leeway=0)
@given(
    body=_signed_bodies,
    exp=_exps,
    kid=_kids,
    mac_valid=st.booleans(),
    now=st.sampled_from([0.0, 98.0, 99.0, 100.0, NOW]),
    leeway=st.sampled_from([0, 1]),
)
def test_hot_path_equals_the_plain_parse(
    body: str, exp: str, kid: str, mac_valid: bool, now: float, leeway: int
) -> None:
    """verify_url reads kid after "&kid=" and exp after "&exp=" or the query's "?exp="
    and falls back to the plain parse (``_verify_plain``: the last "kid=", exp checked
    character by character) for every other shape. Both give the same Verdict for any
    bytes, including links whose MAC matches (a signer other than sign_url, holding the
    key, could produce any of these shapes)."""
    ring = KeyRing.parse(f"k1 {VECTOR_SECRET}\nk2 {OTHER_SECRET}")
    signed = (body + exp + kid).encode()
    mac = base64.urlsafe_b64encode(hmac.digest(VECTOR_SECRET_BYTES, signed, "sha256"))
    sig = mac.rstrip(b"=") if mac_valid else b"A" * 43
    url = signed + b"&sig=" + sig
    assert verify_url(url, ring, now=now, leeway=leeway) == _verify_plain(url, ring, now, leeway)


@settings(max_examples=300)
@given(raw=st.binary(max_size=120), now=st.sampled_from([0.0, NOW]))
def test_hot_path_equals_the_plain_parse_on_any_bytes(raw: bytes, now: float) -> None:
    ring = KeyRing.parse(f"k1 {VECTOR_SECRET}\nk2 {OTHER_SECRET}")
    for url in (raw, b"/media/" + raw, VALID.encode()[:40] + raw, raw + b"&kid=k1&sig=" + raw):
        assert verify_url(url, ring, now=now) == _verify_plain(url, ring, now, 0)
