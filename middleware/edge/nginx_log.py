"""nginx access-log lines → :class:`LogRecord`, read as bytes throughout.

Two formats, both shipped in ``deploy/nginx/edgeward-log-formats.conf``:

- ``combined`` — nginx's predefined default::

      $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
      "$http_referer" "$http_user_agent"

  nginx's default log escaping writes ``"``, ``\\`` and every byte below ``0x20`` or from
  ``0x7f`` up as ``\\xHH`` (upper-case hex), so a corrupted request line stays one ASCII
  line: ``"GET /media/ca\\x80\\x01.jpg HTTP/1.1"``. :func:`unescape` gives back the bytes
  the client sent. Trailing quoted fields after the user agent (``"$http_x_forwarded_for"``
  as in Debian's ``main`` format, then ``"$proxy_protocol_addr"`` in ``edgeward_combined``)
  are read when present.
- ``json`` — ``edgeward_json``, one JSON object per line with ``escape=json``. nginx then
  writes control bytes as ``\\u00XX`` but bytes ``>= 0x80`` **raw**, so a line may be
  invalid UTF-8; it is decoded with ``surrogateescape`` and the request line re-encoded to
  the exact bytes received.

A line that does not fit (truncated by a syslog size limit, cut at rotation, another
format) raises :class:`MalformedLine`; callers count it and go on.
"""

from __future__ import annotations

import calendar
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

LogFormat = Literal["combined", "json"]
LOG_FORMATS: Final[tuple[LogFormat, ...]] = ("combined", "json")
# nginx refuses request lines over its header buffers (8 KiB by default); a log line much
# longer than that is not nginx's, and a bound keeps the regexes' work small.
MAX_LINE: Final = 64 * 1024

_ESCAPE: Final = re.compile(rb"\\x([0-9A-Fa-f]{2})")
_COMBINED: Final = re.compile(
    rb"([!-~]+) - (.*?) \[([^\]]*)\] \"([^\"]*)\" (\d{3}) (\d+|-)"
    rb" \"([^\"]*)\" \"([^\"]*)\"((?: \"[^\"]*\")*)[ \t]*\r?\n?"
)
_EXTRA: Final = re.compile(rb' "([^"]*)"')
_MONTHS: Final = {
    m.encode(): i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
# Times a record may carry: from the epoch up to the last second of year 9999, the range
# every reader of the events file (``datetime``) can represent.
MAX_TIME: Final = 253_402_300_799.0
_TIME_LOCAL: Final = re.compile(
    rb"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"
)


class MalformedLine(ValueError):
    """The line is not in the expected format (the message says what is wrong)."""


@dataclass(frozen=True, slots=True)
class LogRecord:
    client: str  # $remote_addr as logged (after nginx's realip, if configured)
    time: float  # Unix seconds; 0.0 when the line carries no usable time
    request: bytes  # the request line exactly as the client sent it (unescaped)
    status: int
    forwarded_for: str = ""  # $http_x_forwarded_for, when the format logs it
    proxy_protocol_addr: str = ""  # $proxy_protocol_addr, when the format logs it

    @property
    def target(self) -> bytes:
        """The request-target of the request line (``b""`` when it has none)."""
        parts = self.request.split(b" ")
        return parts[1] if len(parts) >= 2 else b""


def unescape(data: bytes) -> bytes:
    """Undo nginx's default ``\\xHH`` log escaping; other bytes are kept as they are."""
    if b"\\x" not in data:
        return data
    return _ESCAPE.sub(lambda m: bytes((int(m.group(1), 16),)), data)


def parse_time_local(text: bytes) -> float:
    """``27/Nov/2026:03:35:15 +0000`` → Unix seconds; ``MalformedLine`` otherwise."""
    m = _TIME_LOCAL.fullmatch(text)
    month = _MONTHS.get(m.group(2)) if m else None
    if m is None or month is None:
        raise MalformedLine(f"time {text[:40]!r} is not nginx's $time_local")
    day, _, year, hh, mm, ss, sign, oh, om = m.groups()
    try:
        # datetime validates the fields (day 32, hour 25...); timegm alone would roll over.
        stamp = datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=UTC)
        t = calendar.timegm(stamp.utctimetuple())
    except (ValueError, OverflowError):
        raise MalformedLine(f"time {text[:40]!r} is out of range") from None
    offset = (int(oh) * 60 + int(om)) * 60
    return _checked_time(float(t - offset if sign == b"+" else t + offset))


def _ascii(field: bytes) -> str:
    return "" if field == b"-" else field.decode("ascii", "replace")


def parse_combined(line: bytes) -> LogRecord:
    """One ``combined`` (or ``edgeward_combined``) line; ``MalformedLine`` if it is none."""
    if len(line) > MAX_LINE:
        raise MalformedLine(f"line longer than {MAX_LINE} bytes")
    m = _COMBINED.fullmatch(line)
    if m is None:
        raise MalformedLine(f"not a combined log line: {line[:80]!r}")
    client, _user, time_local, request, status, _size, _ref, _ua, extra = m.groups()
    extras = [_ascii(unescape(x)) for x in _EXTRA.findall(extra)] if extra else []
    if not client.isascii():
        raise MalformedLine(f"client {client[:40]!r} is not an address")
    return LogRecord(
        client=client.decode("ascii"),
        time=parse_time_local(time_local),
        request=unescape(request),
        status=int(status),
        forwarded_for=extras[0] if extras else "",
        proxy_protocol_addr=extras[1] if len(extras) > 1 else "",
    )


def _json_time(obj: dict[str, object]) -> float:
    msec = obj.get("msec")
    if isinstance(msec, float):
        return _checked_time(msec)
    if isinstance(msec, int) and not isinstance(msec, bool):
        return _checked_time(float(min(msec, 2**63)))  # float() of 10**400 overflows
    if isinstance(msec, str) and msec:
        try:
            value = float(msec)
        except ValueError:
            raise MalformedLine(f"msec {msec[:40]!r} is not a number") from None
        return _checked_time(value)
    iso = obj.get("time")
    if isinstance(iso, str) and iso:
        try:
            return _checked_time(datetime.fromisoformat(iso).timestamp())
        except (ValueError, OverflowError, OSError):
            raise MalformedLine(f"time {iso[:40]!r} is not ISO 8601") from None
    return 0.0


def _checked_time(value: float) -> float:
    """``value`` when it is a time a file can hold (finite, epoch to year 9999)."""
    if not math.isfinite(value) or not 0.0 <= value <= MAX_TIME:
        raise MalformedLine(f"time {value!r} is out of range")
    return value


def _status(value: object) -> int:
    """nginx's ``$status``: three digits (a string under ``escape=json``, or a number)."""
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 999:
        return value
    raise MalformedLine("JSON log line lacks a numeric 'status'")


def _text(obj: dict[str, object], key: str) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str):
        raise MalformedLine(f"field {key!r} is not a string")
    return "" if value == "-" else value


def parse_json(line: bytes) -> LogRecord:
    """One ``edgeward_json`` line (raw high bytes allowed); ``MalformedLine`` if it is none."""
    if len(line) > MAX_LINE:
        raise MalformedLine(f"line longer than {MAX_LINE} bytes")
    try:
        obj = json.loads(line.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):  # ValueError: also an integer of > 4300 digits
        raise MalformedLine(f"not a JSON log line: {line[:80]!r}") from None
    if not isinstance(obj, dict):
        raise MalformedLine("JSON log line is not an object")
    request = obj.get("request")
    client = obj.get("remote_addr")
    if not isinstance(request, str) or not isinstance(client, str) or not client:
        raise MalformedLine("JSON log line lacks 'request' or 'remote_addr'")
    status = _status(obj.get("status"))
    try:
        # surrogateescape gives back the raw bytes nginx wrote; a \\uD8xx escape nginx
        # never writes cannot be encoded and marks the line as not nginx's.
        raw = request.encode("utf-8", "surrogateescape")
        client.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedLine("JSON log line holds characters nginx does not write") from None
    if not client.isprintable() or " " in client:
        raise MalformedLine(f"remote_addr {client[:40]!r} is not an address")
    return LogRecord(
        client=client,
        time=_json_time(obj),
        request=raw,
        status=status,
        forwarded_for=_text(obj, "http_x_forwarded_for"),
        proxy_protocol_addr=_text(obj, "proxy_protocol_addr"),
    )


def parser_for(fmt: LogFormat) -> Callable[[bytes], LogRecord]:
    return parse_json if fmt == "json" else parse_combined


def sniff_format(line: bytes) -> LogFormat:
    """``json`` for a line that starts like a JSON object, else ``combined``."""
    return "json" if line.lstrip()[:1] == b"{" else "combined"
