"""Epson Web Config (ET-16600, WF-3720, DS-730N and kin).

The login, chain import, status and switch requests follow public scripts written for
these printers (see ``DESIGN.md``). **The CA-certificate import is not publicly
documented**: its three paths below (``ca_*``) are our model, the one the bundled
emulator implements; check them against a real printer's page before relying on them.
"""

from __future__ import annotations

from typing import ClassVar, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from edgeward.logs import get_logger
from printer_sync.drivers import html, transport
from printer_sync.drivers.base import Driver, DriverStatus
from printer_sync.errors import ErrorKind, PushError
from printer_sync.validate import Bundle, Limits

log = get_logger("printer_sync.epson")

PATHS: Final = {
    "login": "PRESENTATION/ADVANCED/PASSWORD/SET",
    "chain_form": "PRESENTATION/ADVANCED/NWS_CERT_SSLTLS/CA_IMPORT",
    "chain_import": "PRESENTATIONEX/CERT/IMPORT_CHAIN",
    "status": "PRESENTATION/ADVANCED/NWS_CERT_SSLTLS/TOP",
    "switch": "PRESENTATION/ADVANCED/NWS_CERT_SSLTLS/SET",
    # Modelled, not documented publicly (see the module docstring and README).
    "ca_list": "PRESENTATION/ADVANCED/NWS_CERT_CA/TOP",
    "ca_form": "PRESENTATION/ADVANCED/NWS_CERT_CA/IMPORT",
    "ca_import": "PRESENTATIONEX/CERT/IMPORT_CACERT",
}
COOKIE: Final = "EPSON_COOKIE_SESSION"
TOKEN: Final = "INPUTT_SETUPTOKEN"  # noqa: S105 (a form field name)
SELECT: Final = "SEL_SSLTLSUSECERT"
SELF_SIGNED: Final = "SELF-SIGNED_CERT"
CA_SIGNED: Final = "CA-SIGNED_CERT"
WRONG_PASSWORD: Final = "Incorrect user name or password"  # noqa: S105 (page text)
RATE_LIMITED: Final = "Try again later."
REBOOTING: Final = "Shutting down"
APPLIED: Final = "Setup complete"
CHAIN_SLOTS: Final = ("cert0", "cert1", "cert2")


def pick_form(text: str, path: str, need: tuple[str, ...] = ()) -> html.Form:
    """The form of a Web Config page that holds a fresh token and the ``need`` fields.

    Any text yields that form or a :class:`PushError` (the login page shown instead of
    the setting: a lost session; no such form: the firmware changed).
    """
    found = html.forms(html.parse(text))
    if any("INPUTT_PASSWORD" in f.fields for f in found) and not any(
        TOKEN in f.hidden for f in found
    ):
        raise PushError(
            ErrorKind.UNEXPECTED_ANSWER,
            f"loading {path}: the printer shows its login page (session lost)",
        )
    for form in found:
        if TOKEN in form.hidden and all(n in form.fields for n in need):
            if not form.hidden[TOKEN]:
                break
            return form
    raise PushError(
        ErrorKind.MISSING_TOKEN,
        f"loading {path}: no form with a {TOKEN} value (the firmware changed; "
        "this driver needs an update)",
    )


def certificate_choice(form: html.Form) -> tuple[str | None, tuple[str, ...]]:
    """(the certificate type in use, the types that can be chosen) from the SSL/TLS form,
    whether the firmware shows a select or radio buttons."""
    choice = form.selects.get(SELECT)
    if choice is None:
        raise PushError(
            ErrorKind.UNEXPECTED_ANSWER,
            f"the SSL/TLS page has {SELECT} but not as a choice (the firmware changed)",
        )
    return choice


class EpsonDriver(Driver):
    name: ClassVar[str] = "epson"
    limits: ClassVar[Limits] = Limits(
        slots=len(CHAIN_SLOTS),
        rsa_bits=(2048, 4096),
        ecdsa=False,
        hint="request an RSA key: certbot --key-type rsa, acme.sh -k 2048, lego --key-type rsa2048",
    )

    async def _send(self, method: str, path: str, *, during: str, **kwargs: object) -> str:
        """One request, bounded in time and size; transport failures become named errors."""
        status, text = await transport.request(
            self.client, self.printer, method, path, during=during, **kwargs
        )
        if status != 200:
            raise PushError(
                ErrorKind.UNEXPECTED_ANSWER,
                f"{during}: HTTP {status} for {path} (firmware changed?)",
            )
        if RATE_LIMITED in text:
            raise PushError(
                ErrorKind.RATE_LIMITED,
                f"{during}: the printer says 'Try again later.' (too many login attempts)",
            )
        return text

    async def login(self) -> None:
        password = self.printer.password.reveal() if self.printer.password else ""
        text = await self._send(
            "POST",
            PATHS["login"],
            during="login",
            data={
                "INPUTT_USERNAME": self.printer.username,
                "access": "https",
                "INPUTT_PASSWORD": password,
                "INPUTT_ACCSESSMETHOD": "0",
                "INPUTT_DUMMY": "",
            },
        )
        if WRONG_PASSWORD in text:
            raise PushError(
                ErrorKind.WRONG_PASSWORD,
                f"login: the printer says 'Incorrect user name or password' for user "
                f"{self.printer.username!r}; check password_file/password_env",
            )
        if self.client.cookies.get(COOKIE) is None:
            raise PushError(
                ErrorKind.UNEXPECTED_ANSWER,
                f"login: no {COOKIE} cookie in the answer (firmware changed?)",
            )
        log.debug("%s: logged in", self.printer.name)

    async def _form(self, path: str, *, need: tuple[str, ...] = ()) -> html.Form:
        """Load a page and return its form holding a fresh single-use token."""
        return pick_form(await self._send("GET", path, during=f"loading {path}"), path, need)

    @staticmethod
    def _answer(text: str, during: str, refused: ErrorKind) -> bool:
        if REBOOTING in text:
            return True
        if APPLIED in text:
            return False
        message = html.visible_text(html.parse(text))[:200] or "empty page"
        raise PushError(refused, f"{during}: the printer refused it: {message!r}")

    async def status(self) -> DriverStatus:
        form = await self._form(PATHS["status"], need=(SELECT,))
        chosen, enabled = certificate_choice(form)
        cas: frozenset[str] = frozenset()
        try:
            cas = html.fingerprints(
                html.visible_text(
                    html.parse(await self._send("GET", PATHS["ca_list"], during="CA list"))
                )
            )
        except PushError as exc:
            if exc.kind is not ErrorKind.UNEXPECTED_ANSWER:
                raise
        return DriverStatus(
            uses_ca_signed=chosen == CA_SIGNED,
            has_ca_signed=CA_SIGNED in enabled,
            ca_fingerprints=cas,
        )

    async def upload_chain(self, bundle: Bundle) -> bool:
        form = await self._form(PATHS["chain_form"], need=("key", "cert0"))
        pems = [bundle.leaf_pem(), *bundle.chain_pems()]
        files: dict[str, tuple[str, bytes, str]] = {
            "key": ("key.pem", bundle.key_pem, "application/octet-stream")
        }
        for i, slot in enumerate(CHAIN_SLOTS):
            # Browsers send empty file inputs as empty parts; so do we.
            files[slot] = (
                (f"{slot}.pem", pems[i], "application/x-x509-ca-cert")
                if i < len(pems)
                else ("", b"", "application/octet-stream")
            )
        text = await self._send(
            "POST",
            PATHS["chain_import"],
            during="certificate upload",
            data={**form.hidden, "format": "pem_der"},
            files=files,
        )
        return self._answer(text, "certificate upload", ErrorKind.UPLOAD_REFUSED)

    async def import_ca(self, cert: x509.Certificate) -> bool:
        form = await self._form(PATHS["ca_form"], need=("cert",))
        pem = cert.public_bytes(serialization.Encoding.PEM)
        text = await self._send(
            "POST",
            PATHS["ca_import"],
            during="CA certificate import",
            data={**form.hidden, "format": "pem_der"},
            files={"cert": ("ca.pem", pem, "application/x-x509-ca-cert")},
        )
        return self._answer(text, "CA certificate import", ErrorKind.CA_IMPORT_REFUSED)

    async def use_ca_signed(self) -> bool:
        form = await self._form(PATHS["status"], need=(SELECT,))
        text = await self._send(
            "POST",
            PATHS["switch"],
            during="switching to the CA-signed certificate",
            data={**form.hidden, SELECT: CA_SIGNED},
        )
        return self._answer(
            text, "switching to the CA-signed certificate", ErrorKind.UPLOAD_REFUSED
        )


DRIVER = EpsonDriver
