"""Building and checking origin-form targets."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.signed.quoting import (
    TargetError,
    build_target,
    check_target,
    is_origin_form,
    normalize_path,
    quote_path,
    quote_query,
)


@pytest.mark.parametrize(
    ("path", "encoded"),
    [
        ("/media/a b/été.png", "/media/a%20b/%C3%A9t%C3%A9.png"),
        ("/100%/x", "/100%25/x"),
        ("/a?b#c", "/a%3Fb%23c"),
        ("/keep/:@!$&'()*+,;=-._~", "/keep/:@!$&'()*+,;=-._~"),
        ("/", "/"),
    ],
)
def test_quote_path(path: str, encoded: str) -> None:
    assert quote_path(path) == encoded
    assert is_origin_form(encoded)


@pytest.mark.parametrize(
    ("params", "encoded"),
    [
        ({"w": "640"}, "w=640"),
        ([("q", "a b&c=d+e"), ("x", "é/?")], "q=a%20b%26c%3Dd%2Be&x=%C3%A9/?"),
        ({}, ""),
    ],
)
def test_quote_query(params: dict[str, str] | list[tuple[str, str]], encoded: str) -> None:
    assert quote_query(params) == encoded


def test_build_target() -> None:
    assert build_target("/media/a b.png", {"w": "6 4"}) == "/media/a%20b.png?w=6%204"
    assert build_target("/media/x") == "/media/x"
    assert build_target("/media/x", {}) == "/media/x"
    with pytest.raises(TargetError, match="must start with '/'"):
        build_target("media/x")


@pytest.mark.parametrize(
    "target",
    ["/", "/a", "/a/b?c=d&e", "/a?", "/a??b", "/%aF", "/a/?x=/y?z", "/a;p=1"],
)
def test_origin_form_accepted(target: str) -> None:
    check_target(target)


@pytest.mark.parametrize(
    "target", ["", "a", "//a b", "/a\x00", "/%", "/%4", "/%4g", "/é", "/a#b", "/a\\b", "/a`"]
)
def test_origin_form_refused(target: str) -> None:
    with pytest.raises(TargetError):
        check_target(target)


@settings(max_examples=150)
@given(st.text(min_size=0, max_size=40))
def test_quote_path_always_gives_origin_form_that_decodes_back(text: str) -> None:
    path = "/" + text
    try:
        encoded = quote_path(path)
    except UnicodeEncodeError:  # lone surrogates are not text a URL can carry
        return
    assert is_origin_form(encoded)
    assert unquote(encoded, errors="strict") == path


@pytest.mark.parametrize(
    ("path", "normal", "strict_ok"),
    [
        ("/media/x", "/media/x", True),
        ("//media///x", "/media/x", True),
        ("/a/./b/../../media/x", "/media/x", True),
        ("/media/x/", "/media/x/", True),
        ("/media/.", "/media/", True),
        ("/", "/", True),
        ("/../media/x", "/media/x", False),
        ("/a/../../media", "/media", False),
    ],
)
def test_normalize_path(path: str, normal: str, strict_ok: bool) -> None:
    assert normalize_path(path) == normal
    if strict_ok:
        assert normalize_path(path, strict=True) == normal
    else:
        with pytest.raises(TargetError, match="above '/'"):
            normalize_path(path, strict=True)
