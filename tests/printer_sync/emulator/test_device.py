"""The Epson emulator behaves like the device the driver was written for."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeward.pki import fingerprint, served_certificate
from printer_sync.drivers import html
from printer_sync.emulator import Emulator, EmulatorThread
from printer_sync.emulator.device import _parse_multipart
from printer_sync.emulator.http import Request
from tests.support.printers import BASE, PASSWORD, Chain, exit_code, login, web, write_leaf
from tests.support.wait import wait_until


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with web(emulator.url + "/") as c:
        yield c


def token(c: httpx.Client, path: str) -> str:
    (form,) = [f for f in html.forms(html.parse(c.get(path).text)) if f.hidden]
    return form.hidden["INPUTT_SETUPTOKEN"]


def upload(c: httpx.Client, tok: str, files: dict[str, bytes], fmt: str = "pem_der") -> str:
    parts = {k: (f"{k}.pem", v, "application/octet-stream") for k, v in files.items()}
    r = c.post(
        "PRESENTATIONEX/CERT/IMPORT_CHAIN",
        data={"INPUTT_SETUPTOKEN": tok, "format": fmt},
        files=parts,
    )
    return r.text


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


@pytest.mark.parametrize("server_name", [None, "printer.test"])
def test_starts_self_signed_with_or_without_sni(
    emulator: Emulator, server_name: str | None
) -> None:
    cert, version = served_certificate(emulator.host, emulator.port, server_name=server_name)
    assert cert.subject == cert.issuer and version.startswith("TLS")
    assert fingerprint(cert) == fingerprint(emulator.served_certificate())


def test_login_cookie_and_wrong_password(emulator: Emulator, client: httpx.Client) -> None:
    wrong = login(client, "nope")
    assert wrong.status_code == 200 and "Incorrect user name or password" in wrong.text
    assert "EPSON_COOKIE_SESSION" not in client.cookies
    # Without a session, settings pages show the login form (still 200), no token.
    page = client.get(BASE + "NWS_CERT_SSLTLS/CA_IMPORT")
    assert page.status_code == 200 and "INPUTT_PASSWORD" in page.text
    assert "INPUTT_SETUPTOKEN" not in page.text
    ok = login(client)
    assert ok.status_code == 200 and client.cookies.get("EPSON_COOKIE_SESSION")
    assert "Secure" in ok.headers["set-cookie"]
    incomplete = client.post(BASE + "PASSWORD/SET", data={"INPUTT_PASSWORD": PASSWORD})
    assert "Invalid request." in incomplete.text


def test_tokens_are_fresh_and_single_use(
    emulator: Emulator, client: httpx.Client, chain: Chain, tmp_path: Path
) -> None:
    login(client)
    first = token(client, BASE + "NWS_CERT_SSLTLS/CA_IMPORT")
    second = token(client, BASE + "NWS_CERT_SSLTLS/CA_IMPORT")
    assert first != second and len(first) >= 16
    bad = upload(client, "forged", {"key": b"", "cert0": b""})
    assert "changed by another user" in bad
    files = write_leaf(tmp_path, chain)
    ok = upload(client, first, {"key": files.key.read_bytes(), "cert0": files.cert.read_bytes()})
    assert "Shutting down" in ok
    # the same token once more (the printer reboots; the session is gone anyway)
    wait_until(lambda: emulator.reboots == 1 and emulator.listening, what="the reboot to end")
    with web(emulator.url + "/") as again:
        login(again)
        replay = upload(again, first, {"key": b"x", "cert0": b"y"})
    assert "changed by another user" in replay


@pytest.mark.parametrize(
    ("variant", "answer"),
    [
        ("mismatch", "does not match the certificate"),
        ("ecdsa", "The private key is not supported."),
        ("no-cert", "Specify the private key and the certificate."),
        ("garbage", "The file is invalid."),
        ("pkcs12", "Select the file format."),
    ],
)
def test_upload_is_validated_like_the_device(
    emulator: Emulator,
    client: httpx.Client,
    chain: Chain,
    tmp_path: Path,
    variant: str,
    answer: str,
) -> None:
    good = write_leaf(tmp_path / "good", chain)
    key, cert, fmt = good.key.read_bytes(), good.cert.read_bytes(), "pem_der"
    if variant == "mismatch":
        key = write_leaf(tmp_path / "other", chain).key.read_bytes()
    elif variant == "ecdsa":
        ec = write_leaf(tmp_path / "ec", chain, key_type="ec256")
        key, cert = ec.key.read_bytes(), ec.cert.read_bytes()
    elif variant == "no-cert":
        cert = b""
    elif variant == "garbage":
        cert = b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    elif variant == "pkcs12":
        fmt = "pkcs12"
    login(client)
    tok = token(client, BASE + "NWS_CERT_SSLTLS/CA_IMPORT")
    text = upload(client, tok, {"key": key, "cert0": cert}, fmt)
    assert answer in text and "Shutting down" not in text
    assert emulator.uploads == 0 and not emulator.has_ca_signed


def test_reboot_closes_the_socket_then_serves_the_upload(
    start_emulator: Callable[..., Emulator], chain: Chain, tmp_path: Path
) -> None:
    emu = start_emulator(reboot_seconds=2.0)  # the 0.3 s look below must fall inside it
    files = write_leaf(tmp_path, chain)
    with web(emu.url + "/") as c:
        login(c)
        # Switching first would be refused: no CA-signed certificate yet.
        tok = token(c, BASE + "NWS_CERT_SSLTLS/TOP")
        no = c.post(
            BASE + "NWS_CERT_SSLTLS/SET",
            data={"INPUTT_SETUPTOKEN": tok, "SEL_SSLTLSUSECERT": "CA-SIGNED_CERT"},
        )
        assert "not imported" in no.text
        tok = token(c, BASE + "NWS_CERT_SSLTLS/CA_IMPORT")
        chain_pem = files.chain.read_bytes()
        parts = {"key": files.key.read_bytes(), "cert0": files.cert.read_bytes()}
        assert "Shutting down" in upload(c, tok, {**parts, "cert1": chain_pem})
    wait_until(lambda: refused(emu.port), 30, "the socket to close", interval=0.02)
    time.sleep(0.3)  # the downtime under test, not a wait for something
    assert refused(emu.port)  # real downtime, not a quick blip
    wait_until(lambda: not refused(emu.port), what="the printer to come back")
    # Still the self-signed certificate until the switch...
    cert, _ = served_certificate(emu.host, emu.port)
    assert cert.subject == cert.issuer and emu.has_ca_signed and not emu.uses_ca_signed
    with web(emu.url + "/") as c:
        login(c)
        page = html.forms(html.parse(c.get(BASE + "NWS_CERT_SSLTLS/TOP").text))[0]
        assert page.selects["SEL_SSLTLSUSECERT"] == (
            "SELF-SIGNED_CERT",
            ("SELF-SIGNED_CERT", "CA-SIGNED_CERT"),
        )
        switched = c.post(
            BASE + "NWS_CERT_SSLTLS/SET",
            data={
                "INPUTT_SETUPTOKEN": page.hidden["INPUTT_SETUPTOKEN"],
                "SEL_SSLTLSUSECERT": "CA-SIGNED_CERT",
            },
        )
        assert "Shutting down" in switched.text

    def serves_the_upload() -> bool:
        try:
            cert, _ = served_certificate(emu.host, emu.port, timeout=5)
        except OSError:
            return False
        return fingerprint(cert) == files.fingerprint

    wait_until(serves_the_upload, what="the uploaded certificate to be served")
    assert emu.reboots == 2


def test_ca_store_import(
    emulator: Emulator, client: httpx.Client, chain: Chain, tmp_path: Path
) -> None:
    login(client)

    def send(pem: bytes) -> str:
        tok = token(client, BASE + "NWS_CERT_CA/IMPORT")
        return client.post(
            "PRESENTATIONEX/CERT/IMPORT_CACERT",
            data={"INPUTT_SETUPTOKEN": tok, "format": "pem_der"},
            files={"cert": ("ca.pem", pem, "application/x-x509-ca-cert")},
        ).text

    leaf = write_leaf(tmp_path, chain)
    assert "not a CA certificate" in send(leaf.cert.read_bytes())
    assert "Setup complete" in send(chain.root.cert_pem())
    listing = client.get(BASE + "NWS_CERT_CA/TOP").text
    assert html.fingerprints(listing) == {chain.root.fingerprint}


def test_state_survives_a_restart(tmp_path: Path) -> None:
    first = Emulator(tmp_path / "state", password=PASSWORD)
    with EmulatorThread([first]):
        before = fingerprint(first.served_certificate())
    second = Emulator(tmp_path / "state", password=PASSWORD)
    with EmulatorThread([second]):
        cert, _ = served_certificate(second.host, second.port)
    assert fingerprint(cert) == before


_field = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"\\'),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(
    values=st.dictionaries(_field, st.text(max_size=40), max_size=4),
    files=st.dictionaries(_field, st.binary(max_size=300), min_size=1, max_size=3),
)
def test_multipart_from_a_real_client_parses_back(
    values: dict[str, str], files: dict[str, bytes]
) -> None:
    """What httpx sends (as the driver does) is what the emulator reads, byte for byte."""
    values = {k: v for k, v in values.items() if k not in files}
    built = httpx.Request(
        "POST",
        "https://127.0.0.1/x",
        data=values,
        files={k: (f"{k}.pem", v, "application/octet-stream") for k, v in files.items()},
    )
    body = built.read()
    request = Request("POST", "/x", {"content-type": built.headers["content-type"]}, body)
    parsed = _parse_multipart(request)
    assert parsed is not None
    assert {k: v[1] for k, v in parsed.items()} == {
        **{k: v.encode() for k, v in values.items()},
        **files,
    }


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=400), ctype=st.sampled_from(["", "multipart/form-data", "x"]))
def test_request_parsers_never_crash(body: bytes, ctype: str) -> None:
    request = Request("POST", "/x", {"content-type": ctype, "cookie": body.decode("latin-1")}, body)
    assert isinstance(request.form(), dict) and isinstance(request.cookies, dict)
    parsed = _parse_multipart(request)
    assert parsed is None or isinstance(parsed, dict)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--listen", "nowhere:x"], "--listen"),
        (["--reboot-seconds", "-1"], "--reboot-seconds"),
        (["--password-file", "/nonexistent/pw"], "secret file not found"),
    ],
)
def test_emulate_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], fragment: str
) -> None:

    assert exit_code(["emulate", "--state-dir", str(tmp_path), *extra]) == 2
    assert fragment in capsys.readouterr().err
