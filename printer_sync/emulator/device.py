"""The emulated printer: its state, its pages, its reboots and the faults tests switch on.

State lives in ``state_dir`` so the emulator survives a restart like a printer survives
a power cycle: its self-signed key and certificate (generated on first start), the
uploaded CA-signed key and chain, which of the two it uses, and its CA store.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import hmac
import json
import secrets
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from edgeward.files import atomic_write
from edgeward.pki import fingerprint, self_signed
from edgeward.secrets import Secret
from printer_sync.emulator import pages
from printer_sync.emulator.http import HTTPServer, Request, Response, log

Firmware = Literal["classic", "setup-complete"]
COOKIE: Final = "EPSON_COOKIE_SESSION"

# What tests can switch on (``emulator.faults.add(...)`` or ``--fault``).
FAULTS: Final = {
    "no-token": "forms carry no INPUTT_SETUPTOKEN (a firmware that changed)",
    "refuse-upload": "the chain import answers with an error page",
    "reset-upload": "the connection is reset in the middle of the chain upload",
    "keep-old-cert": "the upload is answered 'Shutting down' but the old certificate stays",
    "rate-limit": "every login answers 'Try again later.'",
}
CA_STORE_SLOTS: Final = 10


@dataclass
class Session:
    tokens: set[str] = field(default_factory=set)


# A multipart form's fields: name → (file name or None, content).
Parts = dict[str, tuple[str | None, bytes]]


def _parse_multipart(request: Request) -> Parts | None:
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return None
    raw = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode() + request.body
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    if not msg.is_multipart():
        return None
    out: dict[str, tuple[str | None, bytes]] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        out[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return out


def _load_cert(data: bytes) -> x509.Certificate | None:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        return None


def _load_key(data: bytes) -> object | None:
    try:
        if b"-----BEGIN" in data:
            return serialization.load_pem_private_key(data, password=None)
        return serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError):
        return None


def _spki(obj: object) -> bytes:
    enc = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return obj.public_bytes(*enc)  # type: ignore[attr-defined, no-any-return]


class Emulator:
    """One emulated Epson printer on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "",
        password: Secret | str = "",
        reboot_seconds: float = 2.0,
        firmware: Firmware = "classic",
        lockout_after: int = 5,
        lockout_seconds: float = 60.0,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.host = host
        self.port = port
        self.username = username
        self._password = password if isinstance(password, Secret) else Secret(password)
        self.reboot_seconds = reboot_seconds
        self.firmware = firmware
        self.lockout_after = lockout_after
        self.lockout_seconds = lockout_seconds
        self.faults: set[str] = set()
        self.sessions: dict[str, Session] = {}
        self.failed_logins = 0
        self.locked_until = 0.0
        # what tests look at
        self.logins = 0
        self.uploads = 0
        self.ca_imports = 0
        self.reboots = 0
        self.requests: list[tuple[str, str]] = []
        self._http = HTTPServer(self._handle, self._abort_upload)
        self._ctx: ssl.SSLContext | None = None

    # state on disk

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def _path(self, name: str) -> Path:
        return self.state_dir / name

    def _settings(self) -> dict[str, object]:
        try:
            data = json.loads(self._path("device.json").read_text())
        except (FileNotFoundError, ValueError):
            data = {}
        return data if isinstance(data, dict) else {}

    def _save(self, **changes: object) -> None:
        data = {**self._settings(), **changes}
        atomic_write(self._path("device.json"), json.dumps(data).encode())

    @property
    def uses_ca_signed(self) -> bool:
        return bool(self._settings().get("use_ca_signed")) and self.has_ca_signed

    @property
    def has_ca_signed(self) -> bool:
        return self._path("ca-signed-chain.pem").exists()

    def served_files(self) -> tuple[Path, Path]:
        if self.uses_ca_signed:
            return self._path("ca-signed-chain.pem"), self._path("ca-signed-key.pem")
        return self._path("self-cert.pem"), self._path("self-key.pem")

    def served_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.served_files()[0].read_bytes())[0]

    def ca_store(self) -> list[x509.Certificate]:
        folder = self._path("ca-store")
        return [
            x509.load_pem_x509_certificate(p.read_bytes()) for p in sorted(folder.glob("*.pem"))
        ]

    def _ensure_self_signed(self) -> None:
        if self._path("self-cert.pem").exists() and self._path("self-key.pem").exists():
            return
        # Epson's own certificate names the printer; it signs itself (issuer == subject).
        own = self_signed(f"EPSON{secrets.token_hex(3).upper()}", days=3650)
        atomic_write(self._path("self-key.pem"), own.key_pem(), mode=0o600)
        atomic_write(self._path("self-cert.pem"), own.cert_pem())

    def _context(self) -> ssl.SSLContext:
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert, key = self.served_files()
        self._ctx.load_cert_chain(cert, key)
        return self._ctx

    # lifecycle

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._ensure_self_signed()
        self.port = await self._http.listen(self.host, self.port, self._context())
        log.info("emulated Epson printer on %s (%s firmware)", self.url, self.firmware)

    async def stop(self) -> None:
        pending = [t for t in self._http.tasks if t is not asyncio.current_task()]
        for t in pending:
            t.cancel()
        # Wait for the cancelled reboots, so no task outlives its loop.
        await asyncio.gather(*pending, return_exceptions=True)
        await self._http.close()

    @property
    def listening(self) -> bool:
        return self._http.listening

    async def _reboot(self, downtime: float) -> None:
        await asyncio.sleep(0.05)  # the "Shutting down" page leaves first
        log.info("rebooting for %.1f s", downtime)
        await self._http.close()
        self.sessions.clear()
        self.reboots += 1
        await asyncio.sleep(downtime)
        self.port = await self._http.listen(self.host, self.port, self._context())
        log.info("back up, serving %s", fingerprint(self.served_certificate()))

    def _restart(self) -> Response:
        """The answer to a change: 'Shutting down' and a reboot, or 'Setup complete'."""
        if self.firmware == "setup-complete":
            # This firmware applies the certificate at once, sessions intact: new
            # handshakes get it (loading into the live context swaps it for them).
            assert self._ctx is not None  # it answers only once started
            self._ctx.load_cert_chain(*self.served_files())
            return Response(pages.message("Setup complete", "Setup complete."))
        self._http.stop_accepting()  # a device shutting down takes no new requests
        return Response(
            pages.message("Shutting down", "Shutting down. Wait a while and access again."),
            after=lambda: self._reboot(self.reboot_seconds),
        )

    # requests

    def _abort_upload(self, method: str, path: str) -> bool:
        return (
            "reset-upload" in self.faults
            and method == "POST"
            and path == "/PRESENTATIONEX/CERT/IMPORT_CHAIN"
        )

    def _session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE, ""))

    def _new_token(self, session: Session) -> str | None:
        if "no-token" in self.faults:
            return None
        token = secrets.token_hex(16)
        session.tokens.add(token)
        return token

    @staticmethod
    def _spend_token(session: Session, token: str | None) -> bool:
        if token and token in session.tokens:
            session.tokens.discard(token)  # single use
            return True
        return False

    async def _handle(self, request: Request) -> Response:
        self.requests.append((request.method, request.path))
        if len(self.requests) > 2000:  # a long-running demo: keep the recent ones
            del self.requests[:1000]
        route = {
            ("GET", "/"): self._index,
            ("GET", "/PRESENTATION/ADVANCED/PASSWORD/TOP"): self._login_page,
            ("POST", "/PRESENTATION/ADVANCED/PASSWORD/SET"): self._login,
            ("GET", "/PRESENTATION/ADVANCED/NWS_CERT_SSLTLS/CA_IMPORT"): self._chain_form,
            ("POST", "/PRESENTATIONEX/CERT/IMPORT_CHAIN"): self._import_chain,
            ("GET", "/PRESENTATION/ADVANCED/NWS_CERT_SSLTLS/TOP"): self._status,
            ("POST", "/PRESENTATION/ADVANCED/NWS_CERT_SSLTLS/SET"): self._switch,
            ("GET", "/PRESENTATION/ADVANCED/NWS_CERT_CA/TOP"): self._ca_list,
            ("GET", "/PRESENTATION/ADVANCED/NWS_CERT_CA/IMPORT"): self._ca_form,
            ("POST", "/PRESENTATIONEX/CERT/IMPORT_CACERT"): self._import_ca,
        }.get((request.method, request.path))
        if route is None:
            return Response(pages.message("Not Found", "The page cannot be found."), status=404)
        if route in (self._index, self._login_page, self._login):
            return route(request, None)
        session = self._session(request)
        if session is None:  # Web Config shows the login page instead of the setting
            return Response(pages.login())
        return route(request, session)

    def _index(self, request: Request, session: Session | None) -> Response:
        return Response(
            pages.page(
                "Web Config",
                "<a href='/PRESENTATION/ADVANCED/PASSWORD/TOP'>Administrator Login</a>",
            )
        )

    def _login_page(self, request: Request, session: Session | None) -> Response:
        return Response(pages.login())

    def _login(self, request: Request, session: Session | None) -> Response:
        form = request.form()
        needed = ("INPUTT_USERNAME", "access", "INPUTT_PASSWORD", "INPUTT_ACCSESSMETHOD")
        if any(k not in form for k in needed):
            return Response(pages.login("Invalid request."))
        now = time.monotonic()
        if "rate-limit" in self.faults or now < self.locked_until:
            return Response(pages.message("Administrator Login", "Try again later."))
        user_ok = hmac.compare_digest(form["INPUTT_USERNAME"].encode(), self.username.encode())
        password_ok = hmac.compare_digest(
            form["INPUTT_PASSWORD"].encode(), self._password.reveal().encode()
        )
        if not (user_ok and password_ok):
            self.failed_logins += 1
            if self.failed_logins >= self.lockout_after:
                self.locked_until = now + self.lockout_seconds
                self.failed_logins = 0
            # The device answers 200 with the form again and this sentence.
            return Response(pages.login("Incorrect user name or password."))
        self.failed_logins = 0
        self.logins += 1
        sid = secrets.token_hex(16)
        self.sessions[sid] = Session()
        return Response(
            pages.page("Administrator Login", "<p>Logged in.</p>"),
            headers=[("Set-Cookie", f"{COOKIE}={sid}; Path=/; Secure; HttpOnly")],
        )

    def _chain_form(self, request: Request, session: Session | None) -> Response:
        assert session is not None
        return Response(pages.chain_form(self._new_token(session)))

    def _refuse(self, text: str) -> Response:
        return Response(pages.message("Error", text))

    def _posted_form(self, request: Request, session: Session | None) -> Parts | Response:
        """A POSTed setting form's fields, or the page the printer shows instead: a body
        that is not multipart, or a setup token already spent (another tab, a replay)."""
        assert session is not None
        parts = _parse_multipart(request)
        if parts is None:
            return self._refuse("Invalid request.")
        token = parts.get("INPUTT_SETUPTOKEN", (None, b""))[1].decode("ascii", "replace")
        if not self._spend_token(session, token):
            return self._refuse("The setting has been changed by another user. Try again.")
        return parts

    def _import_chain(self, request: Request, session: Session | None) -> Response:
        parts = self._posted_form(request, session)
        if isinstance(parts, Response):
            return parts
        if parts.get("format", (None, b""))[1] != b"pem_der":
            return self._refuse("Select the file format.")
        if "refuse-upload" in self.faults:
            return self._refuse("Failed to import the certificate.")
        key_data = parts.get("key", (None, b""))[1]
        leaf_data = parts.get("cert0", (None, b""))[1]
        if not key_data or not leaf_data:
            return self._refuse("Specify the private key and the certificate.")
        key = _load_key(key_data)
        leaf = _load_cert(leaf_data)
        if key is None or leaf is None:
            return self._refuse("The file is invalid.")
        if not isinstance(key, rsa.RSAPrivateKey) or not 2048 <= key.key_size <= 4096:
            return self._refuse("The private key is not supported.")
        if _spki(key.public_key()) != _spki(leaf.public_key()):
            return self._refuse("The private key does not match the certificate.")
        chain = [leaf]
        for slot in ("cert1", "cert2"):
            data = parts.get(slot, (None, b""))[1]
            if data:
                cert = _load_cert(data)
                if cert is None:
                    return self._refuse("The CA certificate is invalid.")
                chain.append(cert)
        self.uploads += 1
        if "keep-old-cert" not in self.faults:
            pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
            key_pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            atomic_write(self._path("ca-signed-key.pem"), key_pem, mode=0o600)
            atomic_write(self._path("ca-signed-chain.pem"), pem)
        return self._restart()

    def _status(self, request: Request, session: Session | None) -> Response:
        assert session is not None
        served = self.served_certificate()
        return Response(
            pages.status(
                self._new_token(session),
                uses_ca_signed=self.uses_ca_signed,
                has_ca_signed=self.has_ca_signed,
                served=f"{served.subject.rfc4514_string()} {fingerprint(served)}",
            )
        )

    def _switch(self, request: Request, session: Session | None) -> Response:
        assert session is not None
        form = request.form()
        if not self._spend_token(session, form.get("INPUTT_SETUPTOKEN")):
            return self._refuse("The setting has been changed by another user. Try again.")
        choice = form.get("SEL_SSLTLSUSECERT")
        if choice not in ("SELF-SIGNED_CERT", "CA-SIGNED_CERT"):
            return self._refuse("Invalid request.")
        want_ca = choice == "CA-SIGNED_CERT"
        if want_ca and not self.has_ca_signed:
            return self._refuse("A CA-signed certificate is not imported.")
        if want_ca == self.uses_ca_signed:
            return Response(pages.message("Setup complete", "Setup complete."))
        self._save(use_ca_signed=want_ca)
        return self._restart()

    def _ca_list(self, request: Request, session: Session | None) -> Response:
        entries = [(c.subject.rfc4514_string(), fingerprint(c)) for c in self.ca_store()]
        return Response(pages.ca_list(entries))

    def _ca_form(self, request: Request, session: Session | None) -> Response:
        assert session is not None
        return Response(pages.ca_form(self._new_token(session)))

    def _import_ca(self, request: Request, session: Session | None) -> Response:
        parts = self._posted_form(request, session)
        if isinstance(parts, Response):
            return parts
        cert = _load_cert(parts.get("cert", (None, b""))[1])
        if cert is None:
            return self._refuse("The file is invalid.")
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            return self._refuse("The certificate is not a CA certificate.")
        store = self.ca_store()
        if cert not in store:
            if len(store) >= CA_STORE_SLOTS:
                return self._refuse("The number of CA certificates has reached the limit.")
            name = f"ca-store/{fingerprint(cert).replace(':', '')[:16]}.pem"
            atomic_write(self._path(name), cert.public_bytes(serialization.Encoding.PEM))
        self.ca_imports += 1
        return Response(pages.message("Setup complete", "Setup complete."))
