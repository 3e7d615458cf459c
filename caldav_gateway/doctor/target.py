"""The deployment under test: URL, credentials, trust anchors; and the HTTP client for it."""

from __future__ import annotations

import ssl
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import httpx

from edgeward.secrets import Secret

USER_AGENT = "caldav-gateway-doctor/1 (edgeward)"


@dataclass(frozen=True)
class Target:
    """Where to connect and as whom. ``password`` stays wrapped until the auth header."""

    url: str
    user: str
    password: Secret
    ca: Path | None = None
    timeout: float = 10.0

    @classmethod
    def parse(
        cls, url: str, user: str, password: Secret, ca: Path | None = None, timeout: float = 10.0
    ) -> Target:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(
                f"{url!r}: expected an https:// URL, e.g. https://cal.example.org:8443/"
            )
        if parts.username or parts.password:
            raise ValueError(
                "put the user in --user and the password in --password-file, not the URL"
            )
        try:
            _ = parts.port
        except ValueError:
            raise ValueError(f"{url!r}: the port is not a number") from None
        if ca is not None:
            try:
                found = ca.is_file()
            except OSError as exc:  # a name too long for the file system
                raise ValueError(f"--ca {str(ca)!r}: {exc.strerror or exc}") from None
            if not found:
                raise ValueError(f"--ca {str(ca)!r}: CA file not found")
            try:
                ssl.create_default_context(cafile=str(ca))
            except ssl.SSLError:
                raise ValueError(f"--ca {str(ca)!r}: not a PEM CA certificate") from None
        return cls(url, user, password, ca, timeout)

    @property
    def _parts(self) -> urllib.parse.SplitResult:
        return urllib.parse.urlsplit(self.url)

    @property
    def tls(self) -> bool:
        return self._parts.scheme == "https"

    @property
    def host(self) -> str:
        return self._parts.hostname or ""

    @property
    def port(self) -> int:
        return self._parts.port or (443 if self.tls else 80)

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self._parts.scheme}://{host}:{self.port}"

    @property
    def path(self) -> str:
        """The path the user typed (Apple clients start there), ``/`` by default."""
        return self._parts.path or "/"

    def verifying_context(self) -> ssl.SSLContext:
        """Trust the system store, or only ``--ca`` when given (a private CA)."""
        if self.ca is not None:
            return ssl.create_default_context(cafile=str(self.ca))
        return ssl.create_default_context()

    def client(self, *, trusted: bool, with_auth: bool = False) -> httpx.Client:
        """An HTTP client on the origin; ``trusted=False`` skips certificate checks.

        The untrusted client exists so that the anonymous checks still run when the TLS
        checks already failed; it never carries the password.
        """
        if with_auth and not trusted:
            raise ValueError("refusing to send the password over an unverified connection")
        verify: ssl.SSLContext | bool = True
        if self.tls:
            if trusted:
                verify = self.verifying_context()
            else:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                verify = ctx
        return httpx.Client(
            base_url=self.origin,
            verify=verify,
            timeout=self.timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            auth=httpx.BasicAuth(self.user, self.password.reveal()) if with_auth else None,
        )
