"""``printer-sync hook``: each ACME client's contract, the printer matching, an end-to-end run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeward.pki import fingerprint
from printer_sync.cli import main
from printer_sync.config import PrinterConfig
from printer_sync.emulator import Emulator
from printer_sync.history import History
from printer_sync.hooks import HookError, Renewal, concerns, covers, renewal_from
from tests.printer_sync.conftest import PASSWORD, PrinterEnv, write_leaf

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

ROOT = Path(__file__).resolve().parents[2]
CERTBOT_HOOK = ROOT / "deploy" / "certbot" / "printer-sync.sh"


def _two_printer_config(env: PrinterEnv, start_emulator: Callable[..., Emulator]) -> Emulator:
    """office uses the certbot-like folder; lab has its own files and names lab.example.org."""
    lab = start_emulator()
    lab_files = write_leaf(env.tmp / "lab-certs", env.chain)
    env.config(
        [
            env.printer(domains=["office.example.org"]),
            env.printer(
                name="lab",
                url=lab.url,
                key=lab_files.key,
                cert=lab_files.cert,
                chain=lab_files.chain,
                domains=["lab.example.org"],
            ),
        ]
    )
    return lab


@pytest.mark.slow
def test_certbot_deploy_hook_script_pushes_only_the_printer_of_that_lineage(
    printer_env: PrinterEnv, start_emulator: Callable[..., Emulator]
) -> None:
    lab = _two_printer_config(printer_env, start_emulator)
    run = subprocess.run(
        ["sh", str(CERTBOT_HOOK)],
        env={
            **os.environ,
            "RENEWED_LINEAGE": str(printer_env.files.key.parent),
            "RENEWED_DOMAINS": "office.example.org",
            "PRINTER_SYNC": str(Path(sys.executable).parent / "printer-sync"),
            "PRINTER_SYNC_CONFIG": str(printer_env.tmp / "printers.toml"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "office: verified: serves " + printer_env.files.fingerprint in run.stdout
    assert fingerprint(printer_env.emulator.served_certificate()) == printer_env.files.fingerprint
    assert lab.uploads == 0 and lab.logins == 0
    # --log-format json: every log line parses, and none holds the password
    lines = [line for line in run.stderr.splitlines() if line.startswith("{")]
    assert lines and all(json.loads(line)["logger"].startswith("edgeward.") for line in lines)
    assert PASSWORD not in run.stdout + run.stderr
    with History(printer_env.tmp / "state" / "printer-sync.db") as h:
        rows = h.rows()
    assert [(r.printer, r.result) for r in rows] == [("office", "verified")]


@pytest.mark.slow
def test_acme_sh_arguments_push_by_domain_and_a_foreign_renewal_pushes_nothing(
    printer_env: PrinterEnv,
    start_emulator: Callable[..., Emulator],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lab = _two_printer_config(printer_env, start_emulator)
    cfg = str(printer_env.tmp / "printers.toml")
    for var in ("RENEWED_LINEAGE", "LEGO_CERT_PATH", "LEGO_CERT_DOMAIN", "Le_Domain"):
        monkeypatch.delenv(var, raising=False)
    # acme.sh passes DOMAIN KEY CERT CA FULLCHAIN; lab's files live elsewhere: by domain.
    args = ["LAB.example.org", "/acme/lab.key", "/acme/lab.cer", "/acme/ca.cer", "/acme/full.cer"]
    assert main(["hook", "--config", cfg, "--dry-run", *args]) == 0
    assert "lab: dry_run: would upload" in capsys.readouterr().out
    assert lab.uploads == 0 and lab.logins == 0
    assert main(["hook", "--config", cfg, *args]) == 0
    out = capsys.readouterr().out
    assert "lab: verified" in out and "office" not in out
    assert lab.uploads == 1 and printer_env.emulator.uploads == 0
    # lego renewing some other name: nothing concerned, exit 0 (hooks run for every cert)
    monkeypatch.setenv("LEGO_CERT_DOMAIN", "www.example.org")
    monkeypatch.setenv("LEGO_CERT_PATH", "/lego/certificates/www.example.org.crt")
    assert main(["hook", "--config", cfg]) == 0
    assert "no printer concerned" in capsys.readouterr().out
    assert lab.uploads == 1 and printer_env.emulator.uploads == 0


def test_hook_without_a_renewal_is_a_usage_error(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("RENEWED_LINEAGE", "LEGO_CERT_PATH", "LEGO_CERT_DOMAIN", "Le_Domain", "_cdomain"):
        monkeypatch.delenv(var, raising=False)
    assert main(["hook", "--config", str(printer_env.config())]) == 2
    assert "no renewed certificate to act on" in capsys.readouterr().err
    assert printer_env.emulator.logins == 0


def test_hook_that_fails_to_push_exits_1_and_names_the_error(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = printer_env.tmp / "wrong.pass"
    wrong.write_text("not-the-password\n")
    cfg = printer_env.config([printer_env.printer(password_file=wrong)])
    monkeypatch.setenv("RENEWED_LINEAGE", str(printer_env.files.key.parent))
    assert main(["hook", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert "office: wrong_password" in out
    assert "not-the-password" not in out
