"""Fuzz the htpasswd reader: untrusted bytes give users or its documented ValueError."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from caldav_gateway.principals import Htpasswd, parse_htpasswd, read_htpasswd

_LINE = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda u, h: f"{u}:{h}",
        st.text(alphabet=st.characters(blacklist_characters=":\n\r"), max_size=12),
        st.one_of(
            st.sampled_from(["$2y$05$abc", "$6$salt$x", "$apr1$x", "plain", ""]),
            st.text(max_size=20),
        ),
    ),
)


@settings(max_examples=300)
@given(st.lists(_LINE, max_size=8).map("\n".join))
def test_parse_htpasswd_gives_users_or_its_error(text: str) -> None:
    try:
        parsed = parse_htpasswd(text)
    except ValueError:
        return  # the documented refusal of a malformed file
    assert isinstance(parsed, Htpasswd)
    assert parsed.plain <= parsed.users
    for user in parsed.users:
        assert user and ":" not in user
        assert not any(c in user for c in "\n\r")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_read_htpasswd_of_any_bytes(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "users"
        path.write_bytes(raw)
        outcome: Htpasswd | ValueError
        try:
            outcome = read_htpasswd(path)
        except ValueError as exc:
            outcome = exc
        if isinstance(outcome, ValueError):
            assert str(path) in str(outcome)  # names the file, never its content
        else:
            assert isinstance(outcome, Htpasswd)


@given(
    st.text(
        alphabet=st.characters(
            blacklist_characters=":#\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
            blacklist_categories=["Zs", "Cc"],
        ),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from(["$2y$05$abcdefghijklmnopqrstuv", "$6$salt$hash"]),
)
def test_a_well_formed_line_is_read_back(user: str, hashed: str) -> None:
    parsed = parse_htpasswd(f"# users\n{user}:{hashed}\n")
    assert parsed.users == {user} and parsed.plain == frozenset()
