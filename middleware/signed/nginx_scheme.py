"""The nginx-compatible scheme: links that nginx's ``secure_link`` module checks too.

nginx configuration this scheme matches (the module's documented example)::

    secure_link     $arg_md5,$arg_expires;
    secure_link_md5 "$secure_link_expires$uri$remote_addr secret";

token = base64url_nopad(MD5(expression)); the URL carries ``md5=<token>&expires=<unix
seconds>``. The expression is a template over ``{expires}``, ``{uri}``, ``{remote_addr}``
and ``{secret}``; the default mirrors the example above.

Compatibility is byte for byte, quirks included, so nginx and the app never disagree:

- ``{uri}`` is nginx's ``$uri``: the path percent-decoded, slashes merged, ``.``/``..``
  resolved (``merge_slashes on``, the default);
- the request-target ends at the first ``#``, as nginx's parser cuts it (``/a#b?x`` is
  ``$uri=/a`` with no arguments); a path holding ``%00`` is refused (nginx answers 400);
- parameters are found as nginx's ``$arg_*`` finds them: the first one whose name
  matches case-insensitively, value taken raw;
- ``expires`` is hashed **exactly as written** (``$secure_link_expires`` and
  ``$arg_expires`` are the raw text: ``01893456000`` and ``1893456000`` are different
  links), must be ASCII digits of any length (leading zeros included) whose value is
  above 0 and at most nginx's ``NGX_MAX_TIME_T_VALUE``;
- the token may carry ``=`` padding (ignored with anything after it), must be at most 24
  characters, hold no ``,`` (nginx splits ``$arg_md5,$arg_expires`` at the first comma)
  and decode to 16 bytes; the unused low bits of its last character are ignored, as
  nginx's decoder ignores them;
- the signature is checked before the expiry, so an expired forgery is a 403, not a 410.

MD5 is what nginx offers; it is the edge's check. The native scheme (HMAC-SHA256, key
ids, rotation) is the stronger one for links only the app checks.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import ipaddress
import string
import time
from typing import Final
from urllib.parse import unquote_to_bytes

from edgeward.secrets import Secret
from middleware.corruption.classify import classify
from middleware.signed.outcome import Result, Verdict
from middleware.signed.quoting import TargetError, check_target, normalize_path, query_names

DEFAULT_TEMPLATE: Final = "{expires}{uri}{remote_addr} {secret}"
FIELDS: Final = frozenset({"expires", "uri", "remote_addr", "secret"})
PARAMS: Final = (b"md5", b"expires")
_TOKEN_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
MAX_TIME: Final = 2**63 - 1  # nginx's NGX_MAX_TIME_T_VALUE on 64-bit systems


class TemplateError(ValueError):
    pass


def remote_addr_text(address: str) -> str:
    """``address`` spelt as nginx spells ``$remote_addr``, the text a link is hashed with.

    IPv4 is dotted decimal. IPv6 follows nginx's ``ngx_inet6_ntop``: lower-case hex
    without leading zeros, the first longest run of two or more zero groups as ``::``,
    and the last 32 bits in dotted form for an IPv4-mapped address (``::ffff:1.2.3.4``)
    and for most addresses under ``::/96`` (``::1.2.3.4``; but ``::1`` and ``::N`` for
    N < 256 stay hex). Python's own spelling differs for those (``::ffff:102:304``), so a
    link signed for a mapped client would never match. Raises ``ValueError`` for text
    that is not an address.
    """
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return str(ip)
    raw = ip.packed
    groups = [raw[i] << 8 | raw[i + 1] for i in range(0, 16, 2)]
    start, length = -1, 1  # a single zero group is written out, as nginx does
    run = 0
    for i, group in enumerate([*groups, 1]):  # the sentinel closes a trailing run
        if group == 0:
            run += 1
        else:
            if run > length:
                start, length = i - run, run
            run = 0
    dotted = start == 0 and (
        (length == 5 and groups[5] == 0xFFFF)
        or length == 6
        or (length == 7 and raw[14] != 0 and raw[15] != 1)
    )
    if dotted:  # the run starts the address; a run into the last 32 bits stops there
        tail = [f"{g:x}" for g in groups[length:6]]
        return "::" + ":".join([*tail, str(ipaddress.IPv4Address(raw[12:]))])
    hexes = [f"{g:x}" for g in groups]
    if start < 0:
        return ":".join(hexes)
    return ":".join(hexes[:start]) + "::" + ":".join(hexes[start + length :])


def parse_template(template: str) -> tuple[tuple[bytes, str | None], ...]:
    """Literal text and field names, validated: unknown fields, a missing ``{secret}`` or
    ``{expires}`` (either would let anyone forge or extend links) are errors."""
    parts: list[tuple[bytes, str | None]] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"template {template!r}: {exc}") from None
    for literal, field, spec, conversion in parsed:
        if field is not None and (field not in FIELDS or spec or conversion):
            raise TemplateError(
                f"template field {{{field}}} unknown: use {{expires}} {{uri}} "
                "{remote_addr} {secret}"
            )
        parts.append((literal.encode("utf-8"), field))
    used = {f for _, f in parts if f}
    for needed in ("secret", "expires"):
        if needed not in used:
            raise TemplateError(f"template must contain {{{needed}}}")
    return tuple(parts)


def nginx_uri(raw_path: bytes) -> bytes | None:
    """nginx's ``$uri`` for a raw path, or ``None`` where nginx answers 400 itself."""
    if b"%" in raw_path:
        i = raw_path.find(b"%")
        while i >= 0:  # nginx refuses a "%" not followed by two hex digits
            if not _is_hex(raw_path[i + 1 : i + 3]):
                return None
            i = raw_path.find(b"%", i + 3)
        raw_path = unquote_to_bytes(raw_path)
    if not raw_path.startswith(b"/") or b"\x00" in raw_path:
        return None  # nginx: 400 for a NUL, decoded or raw
    try:  # latin-1 maps bytes to text one to one, so any byte survives the round trip
        return normalize_path(raw_path.decode("latin-1"), strict=True).encode("latin-1")
    except TargetError:
        return None


def _is_hex(two: bytes) -> bool:
    return len(two) == 2 and not two.translate(None, b"0123456789abcdefABCDEF")


def decode_token(value: bytes) -> bytes | None:
    """nginx's ``ngx_decode_base64url`` as ``secure_link`` applies it, or ``None``."""
    if len(value) > 24 or b"," in value:
        return None
    value = value.split(b"=", 1)[0]
    if value.translate(None, _TOKEN_ALPHABET) or len(value) % 4 == 1:
        return None
    padded = value.translate(bytes.maketrans(b"-_", b"+/")) + b"=" * (-len(value) % 4)
    try:
        raw = binascii.a2b_base64(padded)  # like nginx, ignores the last char's unused bits
    except binascii.Error:
        return None
    return raw if len(raw) == 16 else None


def first_arg(query: bytes, name: bytes) -> bytes | None:
    """nginx's ``$arg_<name>``: the first ``name=`` (case-insensitive), value raw."""
    for part in query.split(b"&"):
        key, eq, value = part.partition(b"=")
        if eq and key.lower() == name:
            return value
    return None


def parse_expires(value: bytes) -> int | None:
    """nginx's ``ngx_atotm`` plus ``secure_link``'s "> 0" rule: ASCII digits, any number
    of leading zeros, a value up to ``NGX_MAX_TIME_T_VALUE``."""
    digits = value.lstrip(b"0")
    if not value or not value.isdigit() or len(digits) > 19:  # bytes: ASCII digits only
        return None
    n = int(digits or b"0")
    return n if 0 < n <= MAX_TIME else None


class NginxScheme:
    """Sign and verify links the way nginx's ``secure_link_md5`` does."""

    __slots__ = ("_parts", "_secret", "template")

    def __init__(self, secret: Secret, template: str = DEFAULT_TEMPLATE) -> None:
        if not secret:
            raise ValueError("the nginx scheme needs a non-empty secret")
        self._parts = parse_template(template)
        self._secret = secret
        self.template = template

    def __repr__(self) -> str:
        return f"NginxScheme(template={self.template!r}, secret=<hidden>)"

    def digest(self, expires: bytes, uri: bytes, remote_addr: str) -> bytes:
        """MD5 of the expression; ``expires`` is the text as written in the URL."""
        values = {
            "expires": expires,
            "uri": uri,
            "remote_addr": remote_addr.encode("ascii", "replace"),
            "secret": self._secret.reveal().encode("utf-8"),
        }
        expression = b"".join(lit + (values[f] if f else b"") for lit, f in self._parts)
        return hashlib.md5(expression, usedforsecurity=False).digest()

    def token(self, expires: int | bytes, uri: bytes, remote_addr: str) -> str:
        text = expires if isinstance(expires, bytes) else str(expires).encode("ascii")
        raw = self.digest(text, uri, remote_addr)
        return (
            binascii.b2a_base64(raw, newline=False)
            .rstrip(b"=")
            .decode("ascii")
            .translate(str.maketrans("+/", "-_"))
        )

    def sign(self, target: str, *, expires_at: int, remote_addr: str = "") -> str:
        """``target`` plus ``md5=…&expires=…`` (appended after any query)."""
        check_target(target)
        path, _, query = target.partition("?")
        taken = {n.lower() for n in query_names(query)} & {"md5", "expires"}
        if taken:
            raise TargetError(f"target already carries {', '.join(sorted(taken))}")
        if not 0 < expires_at <= MAX_TIME:
            raise ValueError(f"expiry must be a unix time from 1 to {MAX_TIME}, got {expires_at}")
        uri = nginx_uri(path.encode("ascii"))
        if uri is None:
            raise TargetError(f"nginx would refuse this path itself (400): {path!r}")
        token = self.token(expires_at, uri, remote_addr)
        sep = "&" if "?" in target else "?"
        return f"{target}{sep}md5={token}&expires={expires_at}"

    def verify(
        self, target: bytes, remote_addr: str, *, now: float | None = None, leeway: int = 0
    ) -> Verdict:
        """Check a request-target as received. Never raises on any input."""
        target = target.partition(b"#")[0]  # nginx's parser ends the target there
        path, _, query = target.partition(b"?")
        token = first_arg(query, b"md5")
        expires_raw = first_arg(query, b"expires")
        if token is None and expires_raw is None:
            return _rejected(target, "missing")
        expires = parse_expires(expires_raw) if expires_raw is not None else None
        received = decode_token(token) if token is not None else None
        uri = nginx_uri(path)
        if expires_raw is None or expires is None or received is None or uri is None:
            return _rejected(target, "malformed")
        if not hmac.compare_digest(self.digest(expires_raw, uri, remote_addr), received):
            return _rejected(target, "bad_signature")
        stripped = strip_params(target, PARAMS)
        if expires + leeway < (time.time() if now is None else now):
            return Verdict("expired", stripped, exp=expires)
        return Verdict("valid", stripped, exp=expires)


def strip_params(target: bytes, names: tuple[bytes, ...]) -> bytes:
    """``target`` without the query parameters named ``names`` (case-insensitive)."""
    path, _, query = target.partition(b"?")
    kept = [p for p in query.split(b"&") if p.partition(b"=")[0].lower() not in names]
    return path + b"?" + b"&".join(kept) if any(kept) else path


def _rejected(target: bytes, result: Result) -> Verdict:
    finding = classify(target)
    if finding is not None:
        return Verdict("corrupted", finding=finding)
    return Verdict(result)
