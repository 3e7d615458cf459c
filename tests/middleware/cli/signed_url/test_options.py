"""What ``signed-url``'s subcommands share: keys and secrets read into one-line usage
errors, the expiry of a new link, and any unix time shown as UTC."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pytest

from edgeward.cli import UsageError
from middleware.cli.signed_url.options import (
    NGINX_DEFAULT_EXPIRES_IN,
    add_scheme_options,
    expiry,
    keyring,
    nginx,
    utc,
)
from middleware.signed.nginx_scheme import DEFAULT_TEMPLATE, MAX_TIME


def _args(files: dict[str, Path], *argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_scheme_options(p)
    p.add_argument("--expires-in", type=int)
    p.add_argument("--expires-at", type=int)
    resolved = [str(files[a[1:-1]]) if a[:1] == "{" and a[1:-1] in files else a for a in argv]
    return p.parse_args(resolved)


@pytest.mark.parametrize(
    ("t", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (4102444800, "2100-01-01T00:00:00Z"),
        (253402300799, "9999-12-31T23:59:59Z"),
        (253402300800, "after year 9999"),
        (MAX_TIME, "after year 9999"),
        (-1, "before 1970"),
    ],
)
def test_utc(t: int, text: str) -> None:
    assert utc(t) == text


@pytest.mark.parametrize(
    ("argv", "default_in", "expected"),
    [
        ([], None, None),  # never expires
        ([], NGINX_DEFAULT_EXPIRES_IN, "now+3600"),
        (["--expires-in", "60"], None, "now+60"),
        (["--expires-at", "4102444800"], None, 4102444800),
        (["--expires-at", str(MAX_TIME)], None, MAX_TIME),
        (["--expires-at", "0"], None, "--expires-at"),
        (["--expires-at", str(MAX_TIME + 1)], None, "--expires-at"),
        (["--expires-in", "0"], None, "--expires-in"),
        (["--expires-in", "-5"], 3600, "--expires-in"),
        (["--expires-in", str(MAX_TIME)], None, "--expires-in"),  # past the last time
    ],
)
def test_expiry(
    files: dict[str, Path], argv: list[str], default_in: int | None, expected: object
) -> None:
    args = _args(files, *argv)
    if isinstance(expected, str) and expected.startswith("--"):
        with pytest.raises(UsageError, match=f"^{expected}: expected"):
            expiry(args, default_in)
        return
    before = int(time.time())
    got = expiry(args, default_in)
    if isinstance(expected, str):
        seconds = int(expected.removeprefix("now+"))
        assert got is not None and before + seconds <= got <= int(time.time()) + seconds
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([], "the native scheme needs --keys FILE"),
        (["--keys", "{dir}"], "--keys: "),
        (["--keys", "{binary}"], "--keys: "),
        (["--keys", "{dir}/missing"], "--keys: "),
    ],
)
def test_keyring_errors_name_the_option(files: dict[str, Path], argv: list[str], says: str) -> None:
    argv = [a.replace("{dir}/", f"{files['dir']}/") for a in argv]
    with pytest.raises(UsageError) as exc:
        keyring(_args(files, *argv))
    assert str(exc.value).startswith(says) and "\n" not in str(exc.value)


def test_keyring_reads_the_file(files: dict[str, Path]) -> None:
    assert keyring(_args(files, "--keys", "{keys}")).kids == ("k1",)


@pytest.mark.parametrize(
    ("argv", "result"),
    [
        (["--secret-file", "{secret}", "--remote-addr", "127.0.0.1"], "127.0.0.1"),
        (["--secret-file", "{secret}", "--remote-addr", "2001:DB8::1"], "2001:db8::1"),
        # nginx's spelling of a mapped client, not Python's ::ffff:7f00:1
        (["--secret-file", "{secret}", "--remote-addr", "::ffff:7f00:1"], "::ffff:127.0.0.1"),
        (["--secret-file", "{secret}", "--template", "{expires}{uri} {secret}"], ""),
        ([], "--scheme nginx needs --secret-file FILE"),
        (["--secret-file", "{dir}"], "--secret-file: "),
        (["--secret-file", "{secret}"], "the template uses {remote_addr}"),
        (["--secret-file", "{secret}", "--remote-addr", "host"], "--remote-addr: 'host' is not"),
        (["--secret-file", "{secret}", "--template", "{x}"], "--template: "),
    ],
)
def test_nginx(files: dict[str, Path], argv: list[str], result: str) -> None:
    args = _args(files, "--scheme", "nginx", *argv)
    if result.startswith(("--", "the ")):
        with pytest.raises(UsageError) as exc:
            nginx(args)
        assert str(exc.value).startswith(result), exc.value
    else:
        scheme, remote_addr = nginx(args)
        assert remote_addr == result
        assert "{remote_addr}" in DEFAULT_TEMPLATE  # why the default needs --remote-addr
        signed = scheme.sign("/s/x", expires_at=2147483647, remote_addr=remote_addr)
        assert scheme.verify(signed.encode(), remote_addr, now=0).ok
