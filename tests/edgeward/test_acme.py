"""What an ACME client says it renewed: each client's hook contract, one row each."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from edgeward.acme import (
    HookError,
    Renewal,
    add_hook_arguments,
    covers,
    renewal_from,
    renewal_of,
    same_file,
    uses_renewed_files,
)
from edgeward.cli import UsageError

LIVE = Path("/etc/letsencrypt/live/example.org")


@pytest.mark.parametrize(
    ("env", "args", "source", "expected"),
    [
        pytest.param(
            {"RENEWED_LINEAGE": str(LIVE), "RENEWED_DOMAINS": "Example.org. www.example.org"},
            [],
            None,
            Renewal(
                "certbot",
                ("example.org", "www.example.org"),
                tuple(LIVE / f for f in ("privkey.pem", "cert.pem", "chain.pem", "fullchain.pem")),
                lineage=LIVE,
            ),
            id="certbot",
        ),
        pytest.param(
            {
                "LEGO_CERT_DOMAIN": "a.example",
                "LEGO_CERT_PATH": "/l/a.crt",
                "LEGO_CERT_KEY_PATH": "/l/a.key",
            },
            [],
            None,
            Renewal("lego", ("a.example",), (Path("/l/a.key"), Path("/l/a.crt"))),
            id="lego",
        ),
        pytest.param(
            {},
            ["a.example", "/k", "/c", "", "/f"],
            None,
            Renewal("acme.sh", ("a.example",), (Path("/k"), Path("/c"), Path("/f"))),
            id="acme.sh-arguments-empty-ca",
        ),
        pytest.param(
            {"_cdomain": "a.example,b.example", "_ckey": "/k", "_ccert": "/c"},
            [],
            None,
            Renewal("acme.sh", ("a.example", "b.example"), (Path("/k"), Path("/c"))),
            id="acme.sh-exported",
        ),
        pytest.param(
            {"Le_Domain": "a.example", "CERT_PATH": "/c", "CERT_FULLCHAIN_PATH": "/f"},
            [],
            None,
            Renewal("acme.sh", ("a.example",), (Path("/c"), Path("/f"))),
            id="acme.sh-reloadcmd",
        ),
        pytest.param(
            {"RENEWED_LINEAGE": str(LIVE), "LEGO_CERT_DOMAIN": "l.example"},
            [],
            "lego",
            Renewal("lego", ("l.example",), ()),
            id="forced-source-wins-over-certbot",
        ),
        pytest.param(
            {"RENEWED_LINEAGE": "/x", "LEGO_CERT_DOMAIN": "l.example"},
            [],
            None,
            Renewal(
                "certbot",
                (),
                tuple(
                    Path("/x") / f
                    for f in ("privkey.pem", "cert.pem", "chain.pem", "fullchain.pem")
                ),
                lineage=Path("/x"),
            ),
            id="certbot-first",
        ),
    ],
)
def test_renewal_from_each_contract(
    env: dict[str, str], args: list[str], source: str | None, expected: Renewal
) -> None:
    assert renewal_from(env, args, source) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("env", "args", "source", "message"),
    [
        ({}, [], None, "expected RENEWED_LINEAGE (certbot)"),
        ({"RENEWED_LINEAGE": " "}, [], "certbot", "RENEWED_LINEAGE and RENEWED_DOMAINS"),
        ({"RENEWED_LINEAGE": "/x"}, [], "lego", "LEGO_CERT_DOMAIN"),
        ({}, [], "acme.sh", "DOMAIN KEY CERT CA FULLCHAIN"),
        ({}, ["a.example"], "certbot", "arguments are acme.sh's contract"),
        ({}, ["d", "k", "c", "ca", "f", "extra"], None, "at most 5 arguments"),
        ({}, [" "], None, "no renewed certificate"),
    ],
)
def test_renewal_from_refuses_what_it_cannot_use(
    env: dict[str, str], args: list[str], source: str | None, message: str
) -> None:
    with pytest.raises(HookError, match=re.escape(message)):
        renewal_from(env, args, source)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("renewed", "name", "expected"),
    [
        ("example.org", "example.org", True),
        ("Example.org.", "example.ORG", True),
        ("*.example.org", "vpn.example.org", True),
        ("*.example.org", "example.org", False),
        ("*.example.org", "a.b.example.org", False),  # one label only
        ("*.example.org", "*.example.org", True),  # the same name
        ("*.example.org", ".example.org", False),
        ("example.org", "vpn.example.org", False),
    ],
)
def test_covers(renewed: str, name: str, expected: bool) -> None:
    assert covers(renewed, name) is expected


def test_same_file_follows_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "archive" / "cert1.pem"
    real.parent.mkdir()
    real.write_text("x")
    link = tmp_path / "cert.pem"
    link.symlink_to(real)
    assert same_file(link, real)
    assert same_file(tmp_path / "a" / ".." / "cert.pem", link)
    assert not same_file(tmp_path / "other.pem", real)


@pytest.mark.parametrize(
    ("paths", "renewal", "expected"),
    [
        (
            [Path("/le/fullchain.pem")],
            Renewal("lego", (), (Path("/le/fullchain.pem"),)),
            "uses /le/fullchain.pem",
        ),
        (
            [Path("/le/x/../fullchain.pem")],
            Renewal("lego", (), (Path("/le/fullchain.pem"),)),
            "uses /le/fullchain.pem",
        ),
        (
            [Path("/le/key.pem")],
            Renewal("certbot", (), (), lineage=Path("/le")),
            "uses /le/key.pem in /le",
        ),
        ([Path("/other/key.pem")], Renewal("certbot", (), (), lineage=Path("/le")), None),
        ([], Renewal("lego", (), (Path("/le/fullchain.pem"),)), None),
    ],
)
def test_uses_renewed_files(paths: list[Path], renewal: Renewal, expected: str | None) -> None:
    assert uses_renewed_files(paths, renewal) == expected


@pytest.mark.parametrize(
    ("argv", "env", "result"),
    [
        (["a.example", "/k"], {}, "acme.sh renewal of a.example (1 file(s))"),
        (["--from", "lego"], {"LEGO_CERT_DOMAIN": "l.example"}, "lego renewal of l.example"),
        ([], {"RENEWED_LINEAGE": "/x"}, "certbot renewal of no domain (4 file(s))"),
        ([], {}, UsageError),
        (["--from", "certbot", "a.example"], {}, UsageError),
    ],
)
def test_renewal_of_parsed_arguments(
    argv: list[str], env: dict[str, str], result: str | type[Exception]
) -> None:
    p = argparse.ArgumentParser()
    add_hook_arguments(p)
    args = p.parse_args(argv)
    if isinstance(result, str):
        assert renewal_of(args, env).describe().startswith(result)
    else:
        with pytest.raises(result, match=r"no renewed certificate|acme\.sh's contract"):
            renewal_of(args, env)


def test_from_names_every_client() -> None:
    p = argparse.ArgumentParser()
    add_hook_arguments(p)
    with pytest.raises(SystemExit):
        p.parse_args(["--from", "caddy"])
    assert p.parse_args([]).source == "auto"
