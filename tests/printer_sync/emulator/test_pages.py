"""The emulator answers like an Epson, so scripts written for real printers work on it
(issue 12, section 3).

:class:`ScriptClient` is written here, from scratch, to make exactly the assumptions that
public upload scripts for the ET-16600 / DS-730N make (the original of
``franzs/epson-upload-certificate`` from Fazal Majid's post and that repository's later
versions). No code of theirs is copied; these are the facts read from them:

1. Login is ``POST PRESENTATION/ADVANCED/PASSWORD/SET`` with the fields
   ``INPUTT_USERNAME``, ``access=https``, ``INPUTT_PASSWORD``, ``INPUTT_ACCSESSMETHOD=0``,
   ``INPUTT_DUMMY=""``; the session is the cookie ``EPSON_COOKIE_SESSION`` it sets.
2. The CA_IMPORT page's ``<input>`` elements are read by ``name`` *and* ``value``
   (every one of them: the original indexes ``value`` without checking, so a file input or
   a submit button without one is a ``KeyError``), and the result must hold
   ``INPUTT_SETUPTOKEN``.
3. The ``cert0`` input is present in that form (a later version deletes it from the
   values it re-posts, without checking).
4. The upload re-posts every input value except ``key`` and ``cert0..2``, adds
   ``format=pem_der``, and sends the key and the certificates as the files ``key``,
   ``cert0``, ``cert1``... to ``PRESENTATIONEX/CERT/IMPORT_CHAIN``; success is the text
   "Shutting down" in the answer.
5. The certificate type in use is found on ``PRESENTATION/ADVANCED/NWS_CERT_SSLTLS/TOP``
   in the form with ``id="input_form"``: the value of its selected choice
   (``SELF-SIGNED_CERT`` or ``CA-SIGNED_CERT``); no such form is "No cert type found".
6. On a self-signed printer, after the upload's reboot the script logs in again until
   that works, reads a fresh token from the TOP page, and posts ``INPUTT_SETUPTOKEN`` with
   ``SEL_SSLTLSUSECERT=CA-SIGNED_CERT`` to ``.../NWS_CERT_SSLTLS/SET``; success is again
   "Shutting down".
"""

from __future__ import annotations

import time
from xml.etree.ElementTree import Element

import html5lib
import httpx
import pytest

from edgeward.pki import fingerprint, served_certificate
from printer_sync.emulator import Emulator
from tests.support.printers import PASSWORD, PrinterEnv

COOKIE = "EPSON_COOKIE_SESSION"


class ScriptError(Exception):
    """What the scripts report and stop on."""


class ScriptClient:
    def __init__(self, url: str, username: str, password: str) -> None:
        self.http = httpx.Client(base_url=url + "/", verify=False, timeout=10.0)  # noqa: S501
        self.username, self.password = username, password

    def login(self) -> None:  # fact 1
        r = self.http.post(
            "PRESENTATION/ADVANCED/PASSWORD/SET",
            data={
                "INPUTT_USERNAME": self.username,
                "access": "https",
                "INPUTT_PASSWORD": self.password,
                "INPUTT_ACCSESSMETHOD": "0",
                "INPUTT_DUMMY": "",
            },
        )
        r.raise_for_status()
        if COOKIE not in self.http.cookies:
            raise ScriptError(f"no {COOKIE} cookie")

    def inputs(self, path: str) -> tuple[dict[str, str], Element]:  # fact 2
        r = self.http.get(path)
        r.raise_for_status()
        tree: Element = html5lib.parse(r.text, namespaceHTMLElements=False)
        data = {el.attrib["name"]: el.attrib["value"] for el in tree.iter("input")}
        if "INPUTT_SETUPTOKEN" not in data:
            raise ScriptError(f"Setup token not found in form at {path}")
        return data, tree

    def cert_type(self) -> tuple[str, dict[str, str]]:  # fact 5
        data, tree = self.inputs("PRESENTATION/ADVANCED/NWS_CERT_SSLTLS/TOP")
        for form in tree.iter("form"):
            if form.get("id") == "input_form":
                for option in form.iter("option"):
                    if option.get("selected") is not None:
                        return str(option.get("value")), data
        raise ScriptError("No cert type found.")

    def upload(self, key_pem: bytes, cert_pems: list[bytes]) -> None:  # facts 3 and 4
        data, _ = self.inputs("PRESENTATION/ADVANCED/NWS_CERT_SSLTLS/CA_IMPORT")
        del data["cert0"]
        for name in ("cert1", "cert2", "key"):
            data.pop(name, None)
        data["format"] = "pem_der"
        files = {"key": ("key", key_pem)}
        files |= {f"cert{i}": (f"cert{i}", pem) for i, pem in enumerate(cert_pems)}
        r = self.http.post("PRESENTATIONEX/CERT/IMPORT_CHAIN", data=data, files=files)
        r.raise_for_status()
        if "Shutting down" not in r.text:
            raise ScriptError("Missing success message in the upload answer")

    def log_in_again(self, within: float = 60.0) -> None:  # fact 6
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self.http.cookies.clear()
            try:
                self.login()
                return
            except (httpx.HTTPError, ScriptError):
                time.sleep(0.1)
        raise ScriptError("the printer did not come back")

    def use_ca_signed(self) -> None:  # fact 6
        _, data = self.cert_type()
        r = self.http.post(
            "PRESENTATION/ADVANCED/NWS_CERT_SSLTLS/SET",
            data={
                "INPUTT_SETUPTOKEN": data["INPUTT_SETUPTOKEN"],
                "SEL_SSLTLSUSECERT": "CA-SIGNED_CERT",
            },
        )
        r.raise_for_status()
        if "Shutting down" not in r.text:
            raise ScriptError("Missing success message in the switch answer")

    def run(self, key_pem: bytes, cert_pems: list[bytes]) -> str:
        self.login()
        cert_type, _ = self.cert_type()
        self.upload(key_pem, cert_pems)
        if cert_type == "SELF-SIGNED_CERT":
            self.log_in_again()
            self.use_ca_signed()
        return cert_type


def wait_served(emu: Emulator, fp: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    seen = None
    while time.monotonic() < deadline:
        try:
            cert, _ = served_certificate(emu.host, emu.port, timeout=2.0)
        except OSError:
            time.sleep(0.05)  # rebooting
            continue
        seen = fingerprint(cert)
        if seen == fp:
            return
        time.sleep(0.05)
    raise AssertionError(f"the printer serves {seen}, not {fp}")


@pytest.mark.slow
def test_a_script_written_for_real_printers_works_on_the_emulator(
    printer_env: PrinterEnv,
) -> None:
    emu, files = printer_env.emulator, printer_env.files
    chain = [files.cert.read_bytes(), files.chain.read_bytes()]

    client = ScriptClient(emu.url, "", PASSWORD)
    assert client.run(files.key.read_bytes(), chain) == "SELF-SIGNED_CERT"
    wait_served(emu, files.fingerprint)
    assert emu.uses_ca_signed and emu.uploads == 1

    # A renewal on the now CA-signed printer: one upload, no switch.
    client = ScriptClient(emu.url, "", PASSWORD)
    assert client.run(files.key.read_bytes(), chain) == "CA-SIGNED_CERT"
    assert emu.uploads == 2
