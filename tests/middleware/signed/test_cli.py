"""``signed-url``: keygen, sign, verify in both schemes; exit codes; nothing secret printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from middleware.cli.signed_url import main
from middleware.signed.keyring import KeyRing
from tests.support.signed_url import VECTOR_SECRET, VECTORS

V1 = VECTORS[0][3]
DOCS = "/s/link?md5=_e4Nc3iduzkWRm01TBBNYw&expires=2147483647"


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    path = tmp_path / "keys.txt"
    path.write_text(f"# test keys\nk1 {VECTOR_SECRET}\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def nginx_secret(tmp_path: Path) -> Path:
    path = tmp_path / "nginx.secret"
    path.write_text("secret\n")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_keygen_prints_a_usable_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "keygen", "--kid", "2027-01")
    assert code == 0
    assert KeyRing.parse(out).kids == ("2027-01",)
    code, out2, _ = run(capsys, "keygen")  # default kid: this month
    assert code == 0 and out2 != out and KeyRing.parse(out2)


@pytest.mark.parametrize(
    ("argv", "output"),
    [
        (["sign", "--expires-at", "1893456000", "/media/cat.jpg?w=640"], VECTORS[0][3]),
        (["sign", "/media/a%20b/%C3%A9t%C3%A9.png"], VECTORS[1][3]),
        (["sign", "--quote", "/media/a b/été.png"], VECTORS[1][3]),
    ],
)
def test_sign_prints_the_vector(
    capsys: pytest.CaptureFixture[str], keys: Path, argv: list[str], output: str
) -> None:
    code, out, _ = run(capsys, argv[0], "--keys", str(keys), *argv[1:])
    assert (code, out) == (0, output + "\n")


@pytest.mark.parametrize(
    ("url", "extra", "code", "words"),
    [
        (V1, [], 0, "valid (signature valid) kid=k1 exp=1893456000 (2030-01-01T00:00:00Z"),
        ("https://example.org" + V1, [], 0, "valid"),
        (V1, ["--now", "1893456100"], 1, "invalid: expired"),
        (V1, ["--now", "1893456100", "--leeway", "100"], 0, "valid"),
        (V1.replace("cat", "dog"), [], 1, "invalid: bad_signature"),
        (V1.replace("kid=k1", "kid=zz"), [], 1, "invalid: unknown_key"),
        ("/media/cat.jpg", [], 1, "invalid: missing"),
        (V1.replace("cat", "c%80%01"), [], 1, "invalid: corrupted"),
    ],
)
def test_verify_exit_codes_and_reasons(
    capsys: pytest.CaptureFixture[str],
    keys: Path,
    url: str,
    extra: list[str],
    code: int,
    words: str,
) -> None:
    got, out, _ = run(capsys, "verify", "--keys", str(keys), "--now", "1800000000", *extra, url)
    assert got == code
    assert words in out


def test_nginx_scheme_sign_and_verify(
    capsys: pytest.CaptureFixture[str], nginx_secret: Path
) -> None:
    common = ["--scheme", "nginx", "--secret-file", str(nginx_secret), "--remote-addr", "127.0.0.1"]
    code, out, _ = run(capsys, "sign", *common, "--expires-at", "2147483647", "/s/link")
    assert (code, out) == (0, DOCS + "\n")
    assert run(capsys, "verify", *common, DOCS)[0] == 0
    other = [*common[:-1], "127.0.0.2"]
    code, out, _ = run(capsys, "verify", *other, DOCS)
    assert (code, "bad_signature" in out) == (1, True)
    template = ["--template", "{expires}{uri} {secret}"]
    code, out, _ = run(capsys, "sign", *common[:4], *template, "--expires-in", "60", "/s/x")
    assert code == 0 and "md5=" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sign", "/media/x"], "needs --keys"),
        (["sign", "--keys", "KEYS", "media/x"], "must start with '/'"),
        (["sign", "--keys", "KEYS", "/media/é"], "not ASCII"),
        (["sign", "--keys", "KEYS", "/media/x?sig=1"], "signing parameter"),
        (["sign", "--keys", "/nonexistent/keys.txt", "/media/x"], "key file not found"),
        (["sign", "--scheme", "nginx", "/s/x"], "needs --secret-file"),
        (["sign", "--scheme", "nginx", "--secret-file", "SECRET", "/s/x"], "--remote-addr"),
        (
            ["sign", "--scheme", "nginx", "--secret-file", "SECRET", "--template", "{uri}", "/x"],
            "must contain {secret}",
        ),
        (["verify", "--keys", "KEYS", "media/x"], "expected /path?query"),
        (["keygen", "--kid", "no spaces"], "key id"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str],
    keys: Path,
    nginx_secret: Path,
    argv: list[str],
    message: str,
) -> None:
    argv = [a.replace("KEYS", str(keys)).replace("SECRET", str(nginx_secret)) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert VECTOR_SECRET not in out + err and "secret\n" not in err


def test_help_teaches_and_console_script_works(keys: Path) -> None:
    out = subprocess.run(
        [Path(sys.executable).parent / "signed-url", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0
    assert "examples:" in out.stdout and "signed-url sign --keys" in out.stdout
    verify = subprocess.run(
        [sys.executable, "-m", "middleware", "signed-url", "verify", "--keys", str(keys), V1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stderr
    assert VECTOR_SECRET not in verify.stdout + verify.stderr
