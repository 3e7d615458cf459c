"""``signed-url`` as a whole on bad and extreme input: one clear line, exit 2 naming the
option, or a verdict; never a traceback; the help of every subcommand. Run in-process
(``main(argv)``) with real files. Each subcommand's own behaviour is in ``test_cmd_*.py``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.signed_url import VECTOR_SECRET, run

NGINX_SIGN = ["sign", "--scheme", "nginx", "--secret-file", "{secret}"]


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
    files: dict[str, Path], argv: list[str], names: str
) -> None:
    argv = [str(files[a[1:-1]]) if a[1:-1] in files and a[0] == "{" else a for a in argv]
    code, _, err = run(*argv)
    assert code == 2 and names in err, err


def test_help_is_consistent() -> None:
    texts = []
    for argv in (["--help"], ["keygen", "--help"], ["sign", "--help"], ["verify", "--help"]):
        code, out, _ = run(*argv)
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
    data: st.DataObject, module_files: dict[str, Path]
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
    code, _, err = run(*argv)
    if code == 2:
        named = option in err or (option == "--kid" and "key id" in err)
        assert named or "TARGET" in err or "URL" in err or "--scheme" in err, (argv, err)
    else:
        assert code in (0, 1), (argv, err)
    assert sys.exc_info() == (None, None, None)
