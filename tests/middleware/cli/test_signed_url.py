"""``signed-url`` on bad and extreme input: one clear line, exit 2 naming the option, or a
verdict; never a traceback. Run in-process (``main(argv)``) with real files."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeward.secrets import Secret
from middleware.cli.signed_url import main
from middleware.signed.keyring import KeyRing
from middleware.signed.native import sign_url
from middleware.signed.nginx_scheme import NginxScheme
from tests.middleware.signed.conftest import VECTOR_SECRET

NGINX_SIGN = ["sign", "--scheme", "nginx", "--secret-file", "{secret}"]
RING = KeyRing.parse(f"k1 {VECTOR_SECRET}\n")
NGINX = NginxScheme(Secret("secret"))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main() points the root logger at this test's captured stderr: undo it after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    keys = tmp_path / "keys.txt"
    keys.write_text(f"k1 {VECTOR_SECRET}\n")
    keys.chmod(0o600)
    secret = tmp_path / "nginx.secret"
    secret.write_text("secret\n")
    secret.chmod(0o600)
    unreadable = tmp_path / "unreadable"
    unreadable.write_text("x\n")
    unreadable.chmod(0)
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00k1 \x80\n")
    binary.chmod(0o600)
    return {"keys": keys, "secret": secret, "dir": tmp_path, "unreadable": unreadable,
            "binary": binary}  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """main(argv): exit code, stdout, stderr. stderr is a StringIO: a real stderr writes
    undecodable path bytes with backslashreplace, pytest's capture would refuse them."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's own errors
            code = int(exc.code or 0)
    out.getvalue().encode("utf-8")  # stdout is strict UTF-8 for real: must encode
    assert "Traceback" not in out.getvalue() + err.getvalue(), err.getvalue()
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "url",
    [
        sign_url("/media/x", RING, expires_at=253402300800),  # past year 9999
        sign_url("/media/x", RING, expires_at=99999999999999999),
        "http://example.org" + sign_url("/media/x", RING, expires_at=253402300799),
    ],
)
def test_verify_far_future_native_links(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], url: str
) -> None:
    code, out, _ = run(capsys, "verify", "--keys", str(files["keys"]), url)
    assert code == 0 and out.startswith("valid")


def test_verify_far_future_nginx_link(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    url = NGINX.sign("/s/x", expires_at=9223372036854775807, remote_addr="127.0.0.1")
    argv = ["--scheme", "nginx", "--secret-file", str(files["secret"]), "--remote-addr"]
    code, out, _ = run(capsys, "verify", *argv, "127.0.0.1", url)
    assert code == 0 and "after year 9999" in out


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["verify", "--keys", "{keys}", "--now", "nan", "/m/x?kid=k1&sig=x"], "--now"),
        (["verify", "--keys", "{keys}", "--now", "inf", "/m/x?kid=k1&sig=x"], "--now"),
        (["verify", "--keys", "{keys}", "--now", "-inf", "/m/x?kid=k1&sig=x"], "--now"),
        (["verify", "--keys", "{keys}", "http://[::1/x"], "URL"),
        (["verify", "--keys", "{dir}", "/m/x?kid=k1&sig=x"], "--keys"),
        (["verify", "--keys", "{unreadable}", "/m/x?kid=k1&sig=x"], "--keys"),
        (["verify", "--keys", "{binary}", "/m/x?kid=k1&sig=x"], "--keys"),
        (["verify", "--scheme", "nginx", "--secret-file", "{dir}", "/s/x"], "--secret-file"),
        (["verify", "--scheme", "nginx", "--secret-file", "{binary}", "/s/x"], "--secret-file"),
        (["verify", "--keys", "{keys}", "--leeway", "-1", "/m/x"], "--leeway"),
        (["sign", "--keys", "{keys}", "--expires-in", "-5", "/m/x"], "--expires-in"),
        (["sign", "--keys", "{keys}", "--expires-in", "0", "/m/x"], "--expires-in"),
        (["sign", "--keys", "{keys}", "--expires-in", "9" * 400, "/m/x"], "--expires-in"),
        (["sign", "--keys", "{keys}", "--expires-at", "0", "/m/x"], "--expires-at"),
        (["sign", "--keys", "{keys}", "--expires-at", "1e9", "/m/x"], "--expires-at"),
        ([*NGINX_SIGN, "--remote-addr", "x", "/s/x"], "--remote-addr"),
        ([*NGINX_SIGN, "--template", "{x}", "/s/x"], "--template"),
        ([*NGINX_SIGN, "--remote-addr", "127.0.0.1", "/s/a%00b"], "TARGET"),
        (["keygen", "--kid", "no spaces"], "--kid"),
        (["keygen", "--out", "{dir}"], "--out"),
        (["sign", "--bogus", "/x"], "unknown option '--bogus'"),
        (["verify", "--keys", "{keys}", "/x", "--bogus=1"], "unknown option '--bogus'"),
    ],
)
def test_bad_input_exits_2_naming_the_option(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], argv: list[str], names: str
) -> None:
    argv = [str(files[a[1:-1]]) if a[1:-1] in files and a[0] == "{" else a for a in argv]
    code, _, err = run(capsys, *argv)
    assert code == 2 and names in err, err


def test_verify_json(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    url = sign_url("/media/x?w=1", RING, expires_at=4102444800)
    code, out, _ = run(capsys, "verify", "--json", "--keys", str(files["keys"]), url)
    verdict = json.loads(out)
    assert code == 0
    assert verdict == {
        "result": "valid", "ok": True, "reason": "signature valid", "kid": "k1",
        "exp": 4102444800, "exp_utc": "2100-01-01T00:00:00Z", "target": "/media/x?w=1",
        "finding": None,
    }  # fmt: skip
    code, out, _ = run(
        capsys, "verify", "--json", "--keys", str(files["keys"]), url.replace("/x", "/y")
    )
    assert code == 1 and json.loads(out)["result"] == "bad_signature"


def test_keygen_out_writes_a_private_file_and_appends(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "keys.txt"
    os.umask(old := os.umask(0o022))  # whatever the umask, the file is 0600
    assert run(capsys, "keygen", "--kid", "2026-11", "--out", str(out))[0] == 0
    assert run(capsys, "keygen", "--kid", "2026-12", "--out", str(out))[0] == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and old is not None
    assert KeyRing.from_file(out).kids == ("2026-11", "2026-12")
    _code, printed, _ = run(capsys, "keygen", "--out", str(out))
    assert printed == ""  # the secret goes to the file only


def test_keygen_out_refuses_a_file_others_can_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "keys.txt"
    out.write_text("")
    out.chmod(0o644)
    code, _, err = run(capsys, "keygen", "--out", str(out))
    assert code == 2 and "chmod 600" in err and out.read_text() == ""


def test_help_is_consistent(capsys: pytest.CaptureFixture[str]) -> None:
    texts = []
    for argv in (["--help"], ["keygen", "--help"], ["sign", "--help"], ["verify", "--help"]):
        code, out, _ = run(capsys, *argv)
        assert code == 0
        texts.append(out)
    top = texts[0]
    assert "examples:" in top and "exit codes:" in top
    for text in texts:
        assert "(default: None)" not in text
        flat = " ".join(text.split())
        for chunk in flat.split(" --")[1:]:
            assert chunk.count("default") <= 1, chunk
    metavars = {m for t in texts for m in __import__("re").findall(r"--[a-z-]+ ([A-Z][A-Z:_]*)", t)}
    assert metavars <= {"FILE", "DIR", "HOST:PORT", "SECONDS", "T", "TEMPLATE", "ADDR", "KID"}


# --- property: arbitrary values for every option -------------------------------------------

_VALUES = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e400", "9" * 30, "9" * 5000, ""]),
    st.integers().map(str),
    st.floats().map(str),
    st.binary(min_size=1, max_size=12).map(os.fsdecode),  # non-UTF-8 bytes, as argv has them
    st.sampled_from(["{dir}", "{unreadable}", "{binary}", "{keys}", "{secret}", "{missing}"]),
)
_OPTIONS = {
    "keygen": ["--kid", "--out", "--log-level", "--log-format"],
    "sign": ["--keys", "--secret-file", "--template", "--remote-addr", "--expires-in",
             "--expires-at", "--scheme", "--log-level"],
    "verify": ["--keys", "--secret-file", "--template", "--remote-addr", "--leeway", "--now",
               "--scheme", "--log-format"],
}  # fmt: skip
_BASE = {
    "keygen": [],
    "sign": ["--keys", "{keys}", "--secret-file", "{secret}", "--remote-addr", "127.0.0.1"],
    "verify": ["--keys", "{keys}", "--secret-file", "{secret}", "--remote-addr", "127.0.0.1"],
}


@pytest.fixture(scope="module")
def module_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("signed-url-props")
    keys = tmp / "keys.txt"
    keys.write_text(f"k1 {VECTOR_SECRET}\n")
    keys.chmod(0o600)
    secret = tmp / "nginx.secret"
    secret.write_text("secret\n")
    unreadable = tmp / "unreadable"
    unreadable.write_text("x\n")
    unreadable.chmod(0)
    binary = tmp / "binary"
    binary.write_bytes(b"\xff\xfe\x00\x80\n")
    return {"keys": keys, "secret": secret, "dir": tmp / "d", "unreadable": unreadable,
            "binary": binary, "missing": tmp / "missing", "out": tmp / "out"}  # fmt: skip


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_option_value_is_a_result_or_exit_2_naming_it(
    data: st.DataObject, module_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    module_files["dir"].mkdir(exist_ok=True)
    command = data.draw(st.sampled_from(sorted(_OPTIONS)))
    option = data.draw(st.sampled_from(_OPTIONS[command]))
    value = data.draw(_VALUES)
    if option == "--out" and value in ("{keys}", "{secret}"):
        value = "{dir}"  # keep the files the other options read intact
    placeholder = value.startswith("{") and value.endswith("}") and value[1:-1] in module_files
    if option == "--out" and not placeholder:  # a drawn file name goes below dir, never into cwd
        value = str(module_files["dir"] / value.replace("/", "_").replace("\x00", "_"))[:200]
    names = {k: str(v) for k, v in module_files.items()}
    resolve = lambda a: names[a[1:-1]] if a[1:-1] in names and a[0] == "{" else a  # noqa: E731
    target = data.draw(st.sampled_from(["/media/x", "/s/x?md5=AAAA&expires=1"]))
    argv = [command, *map(resolve, _BASE[command]), option, resolve(value)]
    argv += [] if command == "keygen" else [target]
    code, _, err = run(capsys, *argv)
    if code == 2:
        named = option in err or (option == "--kid" and "key id" in err)
        assert named or "TARGET" in err or "URL" in err or "--scheme" in err, (argv, err)
    else:
        assert code in (0, 1), (argv, err)
    assert sys.exc_info() == (None, None, None)
