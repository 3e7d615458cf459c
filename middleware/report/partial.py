"""``dpi-report --partial OUT.json`` and ``dpi-report merge``: one report over many hosts.

A partial is a :class:`~middleware.report.build.Tally` on disk: requests per AS number,
the corrupted requests with their evidence, each input's lines, malformed lines and time
span, and the AS table's names of those networks. Everything in it is additive, so the
partials of disjoint inputs, merged in the inputs' order, give the table, HTML and JSON one
run over all the inputs gives, byte for byte (tested).

Per AS, not per client: a partial stays small (a few hundred networks, not a host's every
address) and holds no address but those of the corrupted requests. The price is that the
AS table is applied when the partial is written: a partial records the table's sha256, and
partials made with different tables (or one with a table, one without) are refused.

Schema ``edgeward.dpi-report-partial/1`` (keys are only ever added)::

    {"schema": "edgeward.dpi-report-partial/1",
     "table": {"sha256": hex, "name": str} | null,
     "inputs": [{"path", "kind", "lines", "malformed", "first", "last",
                 "capture": {CaptureStats fields} | null}],
     "requests": [[asn, n], ...], "names": [[asn, name], ...],
     "corrupted": [{"time", "client", "kind", "evidence_hex", "offset", "origin",
                    "target": hex | null, "asn", "as_name",
                    "capture": {Evidence fields} | null}]}

Times are Unix seconds as JSON numbers (they read back exactly). Reading is strict: any
file that is not such a document (truncated, foreign, another schema, a value of the wrong
type or out of range) is one :class:`PartialError` naming the file and the key.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn, TypeVar, get_args

from edgeward.files import atomic_write
from middleware.capture import CaptureStats, Evidence
from middleware.capture.files import Format
from middleware.capture.scan import Checksum, Field
from middleware.report.build import Tally
from middleware.report.inputs import MAX_TIME, Corrupted, InputKind, InputStats

SCHEMA: Final = "edgeward.dpi-report-partial/1"
_FAMILY: Final = "edgeward.dpi-report-partial/"
_MIN_TIME: Final = -62135596800.0  # 0001-01-01: the earliest date a log line can carry
_MAX_INT: Final = 1 << 63
T = TypeVar("T")


class PartialError(ValueError):
    """A partial cannot be read or merged; the message names the file (exit code 2)."""


@dataclass
class Partial:
    counts: Tally
    table: str | None = None  # sha256 (hex) of the AS table applied; None: no table
    table_name: str = ""  # its file name, for messages


def table_digest(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


# --- writing -------------------------------------------------------------------------


def _capture_stats(s: CaptureStats | None) -> dict[str, Any] | None:
    return None if s is None else dict(vars(s))


def _evidence(e: Evidence | None) -> dict[str, Any] | None:
    if e is None:
        return None
    out = {k: getattr(e, k) for k in e.__slots__}
    out["frames"] = list(e.frames)
    out["peer_ttls"] = [[t, n] for t, n in e.peer_ttls.items()]
    out["stream_ttls"] = [[t, n] for t, n in e.stream_ttls.items()]
    return out


def to_dict(partial: Partial) -> dict[str, Any]:
    counts = partial.counts
    table = None
    if partial.table is not None:
        table = {"sha256": partial.table, "name": partial.table_name}
    return {
        "schema": SCHEMA,
        "table": table,
        "inputs": [
            {
                "path": i.path,
                "kind": i.kind,
                "lines": i.lines,
                "malformed": i.malformed,
                "first": i.first,
                "last": i.last,
                "capture": _capture_stats(i.capture),
            }
            for i in counts.inputs
        ],
        "requests": [[asn, n] for asn, n in sorted(counts.requests.items())],
        "names": [[asn, name] for asn, name in sorted(counts.names.items())],
        "corrupted": [
            {
                "time": c.time,
                "client": c.client,
                "kind": c.kind,
                "evidence_hex": c.evidence_hex,
                "offset": c.offset,
                "origin": c.origin,
                "target": c.target.hex() if c.target is not None else None,
                "asn": c.asn,
                "as_name": c.as_name,
                "capture": _evidence(c.capture),
            }
            for c in counts.corrupted
        ],
    }


def write_partial(path: Path, partial: Partial) -> None:
    """Written whole or not at all (a merge never reads half a partial); mode 0600: it
    holds the addresses of the clients whose requests were corrupted."""
    data = json.dumps(to_dict(partial), ensure_ascii=True, allow_nan=False) + "\n"
    atomic_write(path, data.encode("ascii"), mode=0o600)


# --- reading -------------------------------------------------------------------------


class _Obj:
    """A JSON object read strictly: each getter checks type and range, or raises
    :class:`PartialError` naming the file and the key's path."""

    def __init__(self, value: object, where: str, file: str) -> None:
        if not isinstance(value, dict):
            _fail(file, where, "is not an object")
        self.value: dict[str, object] = value
        self.where = where
        self.file = file

    def _get(self, key: str) -> object:
        if key not in self.value:
            _fail(self.file, f"{self.where}.{key}", "is missing")
        return self.value[key]

    def fail(self, key: str, what: str) -> NoReturn:
        _fail(self.file, f"{self.where}.{key}", what)

    def whole(self, key: str, lo: int = 0, hi: int = _MAX_INT) -> int:
        return _int(self._get(key), lo, hi, lambda what: self.fail(key, what))

    def opt_whole(self, key: str, lo: int = 0, hi: int = _MAX_INT) -> int | None:
        value = self._get(key)
        return None if value is None else self.whole(key, lo, hi)

    def time(self, key: str, lo: float = _MIN_TIME) -> float:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, "is not a number")
        if not lo <= value <= MAX_TIME:  # NaN fails too
            self.fail(key, f"is not a time between {lo:g} and {MAX_TIME:g}")
        return float(value)

    def opt_time(self, key: str, lo: float = _MIN_TIME) -> float | None:
        return None if self._get(key) is None else self.time(key, lo)

    def text(self, key: str, *, raw: bool = False) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            self.fail(key, "is not a string")
        if not raw and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: no reader writes one
                self.fail(key, "is not text")
        return value

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            self.fail(key, "is not true or false")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self._get(key)
        if value not in options:
            self.fail(key, f"is not one of {', '.join(options)}")
        assert isinstance(value, str)
        return value

    def items(self, key: str) -> list[object]:
        value = self._get(key)
        if not isinstance(value, list):
            self.fail(key, "is not a list")
        return value

    def counts(self, key: str) -> list[int]:
        out = []
        for n, item in enumerate(self.items(key)):

            def bad(what: str, n: int = n) -> NoReturn:
                self.fail(f"{key}[{n}]", what)

            out.append(_count(item, bad))
        return out

    def pairs(
        self, key: str, second: Callable[[object, Callable[[str], NoReturn]], T]
    ) -> list[tuple[int, T]]:
        """``[[int >= 0, value], ...]``, with distinct first items."""
        out: list[tuple[int, T]] = []
        for n, item in enumerate(self.items(key)):

            def bad(what: str, n: int = n) -> NoReturn:
                self.fail(f"{key}[{n}]", what)

            if not isinstance(item, list) or len(item) != 2:
                bad("is not a pair")
            out.append((_int(item[0], 0, _MAX_INT, bad), second(item[1], bad)))
        if len({k for k, _ in out}) != len(out):
            self.fail(key, "repeats a key")
        return out

    def obj(self, key: str) -> _Obj | None:
        value = self._get(key)
        return None if value is None else _Obj(value, f"{self.where}.{key}", self.file)


def _fail(file: str, where: str, what: str) -> NoReturn:
    raise PartialError(f"{file}: not a usable partial: {where.lstrip('.')} {what}")


def _int(value: object, lo: int, hi: int, fail: Callable[[str], NoReturn]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        fail("is not a whole number")
    if not lo <= value < hi:
        fail(f"is not between {lo} and {hi - 1}")
    return value


def _count(value: object, fail: Callable[[str], NoReturn]) -> int:
    return _int(value, 0, _MAX_INT, fail)


def _name(value: object, fail: Callable[[str], NoReturn]) -> str:
    if not isinstance(value, str):
        fail("is not a string")
    return value.encode("utf-8", "replace").decode("utf-8")


def _capture_stats_of(o: _Obj | None) -> CaptureStats | None:
    if o is None:
        return None
    fmt: Format = o.choice("format", get_args(Format))  # type: ignore[assignment]
    stats = CaptureStats(fmt, o.flag("gzipped"), o.whole("linktype"), cut_short=o.text("cut_short"))
    for key in ("frames", "not_tcp", "snapped", "connections", "http", "tls", "other",
                "requests", "gaps", "resyncs"):  # fmt: skip
        setattr(stats, key, o.whole(key))
    return stats


def _evidence_of(o: _Obj | None) -> Evidence | None:
    if o is None:
        return None
    field: Field = o.choice("field", get_args(Field))  # type: ignore[assignment]
    checksum: Checksum = o.choice("checksum", get_args(Checksum))  # type: ignore[assignment]
    return Evidence(
        stream=o.whole("stream"),
        client=o.text("client"),
        server=o.text("server"),
        field=field,
        frame=o.whole("frame"),
        frames=tuple(o.counts("frames")),
        ttl=o.whole("ttl", 0, 256),
        ip_id=o.opt_whole("ip_id", 0, 1 << 16),
        checksum=checksum,
        peer_ttls=dict(o.pairs("peer_ttls", _count)),
        stream_ttls=dict(o.pairs("stream_ttls", _count)),
        proxied=o.flag("proxied"),
    )


def _input_of(o: _Obj) -> InputStats:
    kind: InputKind = o.choice("kind", get_args(InputKind))  # type: ignore[assignment]
    return InputStats(
        o.text("path", raw=True),  # a file name may hold any bytes (surrogate-escaped)
        kind,
        lines=o.whole("lines"),
        malformed=o.whole("malformed"),
        capture=_capture_stats_of(o.obj("capture")),
        first=o.opt_time("first", 0.0),
        last=o.opt_time("last", 0.0),
    )


def _corrupted_of(o: _Obj) -> Corrupted:
    target = None
    if o.value.get("target") is not None:
        try:
            target = bytes.fromhex(o.text("target"))
        except ValueError:
            o.fail("target", "is not hexadecimal")
    elif "target" not in o.value:
        o.fail("target", "is missing")
    return Corrupted(
        time=o.time("time"),
        client=o.text("client"),
        kind=o.text("kind"),
        evidence_hex=o.text("evidence_hex"),
        offset=o.whole("offset", -_MAX_INT),
        origin=o.text("origin"),
        target=target,
        asn=o.whole("asn", 0, 1 << 32),
        as_name=o.text("as_name"),
        capture=_evidence_of(o.obj("capture")),
    )


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_partial(data: bytes, file: str) -> Partial:
    """A partial from a file's bytes, or :class:`PartialError` (never another error)."""
    try:
        doc = json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise PartialError(f"{file}: not a usable partial: nested too deeply") from None
    except ValueError as exc:  # not JSON, not UTF-8, NaN, a 5,000-digit number
        raise PartialError(f"{file}: not a partial (not JSON: {exc})") from None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if schema != SCHEMA:
        raise PartialError(_foreign(file, schema))
    top = _Obj(doc, "", file)
    table = top.obj("table")
    counts = Tally(
        requests=Counter(dict(top.pairs("requests", _count))),
        corrupted=[
            _corrupted_of(_Obj(v, f"corrupted[{n}]", file))
            for n, v in enumerate(top.items("corrupted"))
        ],
        inputs=[
            _input_of(_Obj(v, f"inputs[{n}]", file)) for n, v in enumerate(top.items("inputs"))
        ],
        names=dict(top.pairs("names", _name)),
    )
    if table is None:
        return Partial(counts)
    digest = table.text("sha256")
    if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
        table.fail("sha256", "is not a sha256 in hexadecimal")
    return Partial(counts, digest, table.text("name"))


def _foreign(file: str, schema: object) -> str:
    if isinstance(schema, str) and schema.startswith(_FAMILY):
        return f"{file}: a partial of schema {schema[:60]!r}; this dpi-report reads {SCHEMA!r}"
    if schema == "edgeward.dpi-report/1":
        return f"{file}: a report (--json), not a partial: make partials with --partial FILE"
    return f"{file}: not a partial (no schema {SCHEMA!r}): make one with dpi-report --partial"


def read_partial(path: Path) -> Partial:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PartialError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_partial(data, str(path))


def merge(partials: Sequence[tuple[str, Partial]]) -> Partial:
    """The partials summed in the order given; refused when they applied different tables."""
    if not partials:
        raise PartialError("no partial to merge")
    first_file, first = partials[0]
    out = Partial(Tally(), first.table, first.table_name)
    for file, p in partials:
        if p.table != first.table:
            raise PartialError(
                f"{file} was made with {_table_text(p)} but {first_file} with "
                f"{_table_text(first)}: partials merge only when made with the same --asn-table"
            )
        out.counts.add(p.counts)
    return out


def _table_text(p: Partial) -> str:
    if p.table is None:
        return "no --asn-table"
    return f"table {p.table_name!r} (sha256 {p.table[:12]}…)"
