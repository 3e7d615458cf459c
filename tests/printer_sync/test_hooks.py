"""Renewals (``printer_sync/hooks.py``): each ACME client's contract and which printers a
renewal concerns. The command runs end to end in ``test_cmd_hook.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printer_sync.config import PrinterConfig
from printer_sync.hooks import HookError, Renewal, concerns, covers, renewal_from

LIVE = "/etc/letsencrypt/live/printer.example.org"


@pytest.mark.parametrize(
    ("env", "args", "source", "expected"),
    [
        pytest.param(
            {"RENEWED_LINEAGE": LIVE, "RENEWED_DOMAINS": "printer.example.org scan.example.org"},
            [],
            None,
            Renewal(
                "certbot",
                ("printer.example.org", "scan.example.org"),
                tuple(
                    Path(LIVE, f) for f in ("privkey.pem", "cert.pem", "chain.pem", "fullchain.pem")
                ),
                Path(LIVE),
            ),
            id="certbot",
        ),
        pytest.param(
            {"RENEWED_LINEAGE": LIVE + "/", "RENEWED_DOMAINS": "  Printer.Example.ORG.  "},
            [],
            None,
            Renewal(
                "certbot",
                ("printer.example.org",),
                tuple(
                    Path(LIVE, f) for f in ("privkey.pem", "cert.pem", "chain.pem", "fullchain.pem")
                ),
                Path(LIVE),
            ),
            id="certbot-case-trailing-dot-and-slash",
        ),
        pytest.param(
            {},
            ["printer.example.org", "/k.key", "/c.cer", "/ca.cer", "/full.cer"],
            None,
            Renewal(
                "acme.sh",
                ("printer.example.org",),
                (Path("/k.key"), Path("/c.cer"), Path("/ca.cer"), Path("/full.cer")),
            ),
            id="acme.sh-deploy-arguments",
        ),
        pytest.param(
            {},
            ["printer.example.org", "/k.key", "/c.cer", "", "/full.cer"],
            "acme.sh",
            Renewal(
                "acme.sh",
                ("printer.example.org",),
                (Path("/k.key"), Path("/c.cer"), Path("/full.cer")),
            ),
            id="acme.sh-empty-ca-argument",
        ),
        pytest.param(
            # arguments win over a stray certbot environment
            {"RENEWED_LINEAGE": LIVE},
            ["other.example.org"],
            None,
            Renewal("acme.sh", ("other.example.org",), ()),
            id="arguments-first",
        ),
        pytest.param(
            {
                "_cdomain": "printer.example.org",
                "_ckey": "/k.key",
                "_ccert": "/c.cer",
                "_cca": "/ca.cer",
                "_cfullchain": "/f.cer",
            },
            [],
            None,
            Renewal(
                "acme.sh",
                ("printer.example.org",),
                (Path("/k.key"), Path("/c.cer"), Path("/ca.cer"), Path("/f.cer")),
            ),
            id="acme.sh-exported-names",
        ),
        pytest.param(
            {
                "Le_Domain": "printer.example.org",
                "CERT_PATH": "/c.cer",
                "CERT_KEY_PATH": "/k.key",
                "CA_CERT_PATH": "/ca.cer",
                "CERT_FULLCHAIN_PATH": "/f.cer",
            },
            [],
            None,
            Renewal(
                "acme.sh",
                ("printer.example.org",),
                (Path("/k.key"), Path("/c.cer"), Path("/ca.cer"), Path("/f.cer")),
            ),
            id="acme.sh-reloadcmd-environment",
        ),
        pytest.param(
            {
                "LEGO_CERT_DOMAIN": "printer.example.org",
                "LEGO_CERT_PATH": "/l/c.crt",
                "LEGO_CERT_KEY_PATH": "/l/c.key",
            },
            [],
            None,
            Renewal("lego", ("printer.example.org",), (Path("/l/c.key"), Path("/l/c.crt"))),
            id="lego",
        ),
        pytest.param(
            {
                "LEGO_CERT_DOMAIN": "*.example.org",
                "LEGO_CERT_PATH": "/l/c.crt",
                "LEGO_CERT_KEY_PATH": "/l/c.key",
                "LEGO_CERT_PEM_PATH": "/l/c.pem",
                "RENEWED_LINEAGE": "",
            },
            [],
            None,
            Renewal(
                "lego", ("*.example.org",), (Path("/l/c.key"), Path("/l/c.crt"), Path("/l/c.pem"))
            ),
            id="lego-wildcard-pem-and-empty-certbot-variable",
        ),
        pytest.param(
            {"RENEWED_LINEAGE": LIVE, "LEGO_CERT_DOMAIN": "x.example.org"},
            [],
            "lego",
            Renewal("lego", ("x.example.org",), ()),
            id="forced-source",
        ),
    ],
)
def test_renewal_from_each_contract(
    env: dict[str, str], args: list[str], source: str | None, expected: Renewal
) -> None:
    got = renewal_from(env, args, source)  # type: ignore[arg-type]
    assert got.source == expected.source
    assert got.domains == expected.domains
    assert [os.path.normpath(f) for f in got.files] == [os.path.normpath(f) for f in expected.files]
    assert (got.lineage is None) == (expected.lineage is None)


@pytest.mark.parametrize(
    ("env", "args", "source", "message"),
    [
        ({}, [], None, "RENEWED_LINEAGE (certbot), LEGO_CERT_PATH (lego)"),
        ({"PATH": "/usr/bin", "RENEWED_DOMAINS": "a.example"}, [], None, "no renewed certificate"),
        ({"LEGO_CERT_PATH": "/c"}, [], "certbot", "RENEWED_LINEAGE and RENEWED_DOMAINS"),
        ({}, ["a", "b", "c", "d", "e", "f"], None, "at most 5 arguments"),
        ({}, ["a.example"], "certbot", "arguments are acme.sh's contract"),
        ({}, ["", "", ""], None, "no renewed certificate"),
    ],
)
def test_renewal_from_refuses_what_it_cannot_use(
    env: dict[str, str], args: list[str], source: str | None, message: str
) -> None:
    with pytest.raises(HookError) as err:
        renewal_from(env, args, source)  # type: ignore[arg-type]
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("renewed", "name", "expected"),
    [
        ("printer.example.org", "printer.example.org", True),
        ("Printer.Example.Org.", "printer.example.org", True),
        ("*.example.org", "printer.example.org", True),
        ("*.example.org", "a.b.example.org", False),  # one label only
        ("*.example.org", "example.org", False),
        ("*.example.org", "*.example.org", True),
        ("printer.example.org", "scan.example.org", False),
        ("example.org", "printer.example.org", False),
    ],
)
def test_covers_table(renewed: str, name: str, expected: bool) -> None:
    assert covers(renewed, name) is expected


labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@settings(max_examples=80)
@given(st.lists(labels, min_size=2, max_size=5), labels)
def test_wildcard_covers_exactly_one_more_label(parent: list[str], head: str) -> None:
    base = ".".join(parent)
    assert covers(f"*.{base}", f"{head}.{base}")
    assert not covers(f"*.{base}", base)
    assert not covers(f"*.{base}", f"{head}.{head}.{base}")


@settings(max_examples=60)
@given(
    st.lists(st.lists(labels, min_size=2, max_size=4).map(".".join), min_size=1, max_size=6),
    st.sampled_from([" ", "  ", "\t", " \n "]),
)
def test_certbot_domains_any_spacing_case_and_repeats(domains: list[str], sep: str) -> None:
    raw = sep.join(d.upper() if i % 2 else d for i, d in enumerate(domains + domains[:1]))
    got = renewal_from({"RENEWED_LINEAGE": LIVE, "RENEWED_DOMAINS": f"{sep}{raw}{sep}"})
    assert got.domains == tuple(dict.fromkeys(d.lower() for d in domains))


def _printer(tmp: Path, **kw: object) -> PrinterConfig:
    fields: dict[str, object] = {
        "name": "office",
        "url": "https://127.0.0.1:1",
        "key": tmp / "live/p/privkey.pem",
        "cert": tmp / "live/p/cert.pem",
    }
    fields.update(kw)
    return PrinterConfig(**fields)  # type: ignore[arg-type]


def test_concerns_matches_files_symlinks_lineage_and_domains(tmp_path: Path) -> None:
    archive, live = tmp_path / "archive/p", tmp_path / "live/p"
    archive.mkdir(parents=True)
    live.mkdir(parents=True)
    for f in ("privkey", "cert", "chain", "fullchain"):
        (archive / f"{f}3.pem").write_text("x")
        (live / f"{f}.pem").symlink_to(archive / f"{f}3.pem")
    certbot = renewal_from({"RENEWED_LINEAGE": str(live), "RENEWED_DOMAINS": "p.example.org"})
    # live paths, as configured in the README
    assert concerns(_printer(tmp_path), certbot) is not None
    # the archive file the live symlink points at
    by_archive = _printer(tmp_path, key=archive / "privkey3.pem", cert=archive / "cert3.pem")
    assert concerns(by_archive, certbot) == f"uses {live / 'privkey.pem'}"
    # other files, but the domain is named
    elsewhere = _printer(
        tmp_path, key=tmp_path / "k", cert=tmp_path / "c", domains=["P.example.org"]
    )
    assert concerns(elsewhere, certbot) == "names P.example.org (p.example.org renewed)"
    # other files, other domain: untouched
    other = _printer(tmp_path, key=tmp_path / "k", cert=tmp_path / "c", domains=["q.example.org"])
    assert concerns(other, certbot) is None
    # a lego wildcard renewal covers the printer's one-label name
    lego = renewal_from({"LEGO_CERT_DOMAIN": "*.example.org", "LEGO_CERT_PATH": "/l/c.crt"})
    assert concerns(other, lego) == "names q.example.org (*.example.org renewed)"


# --- end to end against the emulator -----------------------------------------------------
