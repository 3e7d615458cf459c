"""An offline IP → ASN table: longest-prefix match over sorted integer ranges.

Loaded once from one of three public formats (picked by file name, sniffed otherwise):

- iptoasn TSV (``ip2asn-v4.tsv``, ``ip2asn-combined.tsv``, ``ip2asn-v4-u32.tsv``, ``.gz``
  too): ``range_start  range_end  AS_number  country_code  AS_description``; rows with AS 0
  ("Not routed") are skipped;
- pyasn ``.dat`` (``.gz`` too): ``;`` comment lines, then ``CIDR<TAB>ASN``;
- MaxMind ASN ``.mmdb`` (GeoLite2-ASN): ``autonomous_system_number`` and
  ``autonomous_system_organization`` per network.

Why sorted arrays and ``bisect``: nested prefixes are flattened once, at load time, into
disjoint ranges where the most specific prefix wins; a lookup is then one ``bisect_right``
in a list of Python ints (C speed) and one comparison. IPv4 has its own arrays so the edge
sensor's hot loop can stay on small integers (:meth:`PrefixTable.lookup_v4_int`).
"""

from __future__ import annotations

import functools
import gzip
import ipaddress
import socket
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import IO, Final, Literal

from edgeward.optional import require

TableFormat = Literal["iptoasn", "pyasn", "mmdb"]

_MAX_ASN: Final = (1 << 32) - 1
_BUCKETS: Final = 1 << 16  # IPv4 index: one bucket per /16
_V4_MAPPED: Final = 0xFFFF << 32  # ::ffff:a.b.c.d
_V4_MAPPED_MASK: Final = ((1 << 128) - 1) ^ 0xFFFFFFFF
_INET4: Final = functools.partial(socket.inet_pton, socket.AF_INET)
_FROM_BE: Final = functools.partial(int.from_bytes, byteorder="big")


class TableError(ValueError):
    """The table file cannot be read; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class ASNInfo:
    asn: int
    name: str
    prefix: str  # the matching prefix (CIDR) or range (``first-last``) as written


@dataclass(frozen=True, slots=True)
class _Range:
    start: int
    end: int
    asn: int
    prefix: str


def _flatten(ranges: list[_Range]) -> tuple[list[int], list[int], list[int]]:
    """Disjoint ``(starts, ends, index)`` where the most specific range wins.

    CIDR prefixes are either nested or disjoint; in a partial overlap (possible only in
    hand-made range files) the range that starts later wins from its start on, so a lookup
    never answers with a range that does not hold the address.
    """
    order = sorted(range(len(ranges)), key=lambda i: (ranges[i].start, -ranges[i].end))
    starts: list[int] = []
    ends: list[int] = []
    index: list[int] = []

    def emit(a: int, b: int, idx: int) -> None:
        if a > b:
            return
        if index and index[-1] == idx and ends[-1] + 1 == a:
            ends[-1] = b
            return
        starts.append(a)
        ends.append(b)
        index.append(idx)

    stack: list[tuple[int, int]] = []  # (end, idx) of the open ranges, innermost last
    pos = 0
    for i in order:
        r = ranges[i]
        while stack and stack[-1][0] < r.start:
            end, idx = stack.pop()
            emit(pos, end, idx)
            pos = end + 1
        if stack:
            emit(pos, r.start - 1, stack[-1][1])
            while stack and stack[-1][0] <= r.end:
                stack.pop()  # r covers the rest of it: r takes over
        pos = r.start
        stack.append((r.end, i))
    while stack:
        end, idx = stack.pop()
        emit(pos, end, idx)
        pos = end + 1
    return starts, ends, index


def _ip_int(text: str) -> tuple[int, int]:
    """``(version, integer)`` of an address in text form; ``ValueError`` if it is none."""
    try:
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        pass
    try:
        value = int.from_bytes(socket.inet_pton(socket.AF_INET6, text.split("%", 1)[0]), "big")
    except (OSError, ValueError):
        raise ValueError(f"not an IP address: {text!r}") from None
    if value & _V4_MAPPED_MASK == _V4_MAPPED:
        return 4, value & 0xFFFFFFFF  # a dual-stack socket's view of an IPv4 client
    return 6, value


def _parse_cidr(text: str) -> tuple[int, int, int, str]:
    """``(version, first, last, text)`` of a CIDR; host bits are cleared, as pyasn does.

    ``inet_pton`` and integer masks rather than ``ipaddress``: a table has hundreds of
    thousands of lines, and ``ip_network`` costs several microseconds each.
    """
    addr, sep, plen_text = text.strip().partition("/")
    try:
        ver, bits, raw = 4, 32, socket.inet_pton(socket.AF_INET, addr)
    except OSError:
        try:
            ver, bits, raw = 6, 128, socket.inet_pton(socket.AF_INET6, addr)
        except (OSError, ValueError):
            raise ValueError(f"not a prefix (CIDR or first-last): {text!r}") from None
    plen = bits
    if sep:
        if not (plen_text.isascii() and plen_text.isdigit()) or int(plen_text) > bits:
            raise ValueError(f"not a prefix (CIDR or first-last): {text!r}")
        plen = int(plen_text)
    value = int.from_bytes(raw, "big")
    host = (1 << (bits - plen)) - 1
    first = value & ~host
    if first != value or not sep:  # not written canonically: say it the standard way
        net_cls = ipaddress.IPv4Network if ver == 4 else ipaddress.IPv6Network
        text = str(net_cls((first, plen)))
    return ver, first, first | host, text.strip()


class PrefixTable:
    """Longest-prefix match from IP address to AS number, IPv4 and IPv6.

    Immutable once built; share one instance between sensors and threads.
    """

    __slots__ = ("_names", "_v4", "_v4_asn", "_v4_bucket", "_v4_end", "_v4_start", "_v6", "source")

    def __init__(
        self,
        prefixes: Iterable[tuple[str, int]] = (),
        names: dict[int, str] | None = None,
        *,
        source: str = "",
    ) -> None:
        """Build from ``(prefix, asn)`` pairs; a prefix is a CIDR or ``first-last``.

        ``ValueError`` names the first prefix that is neither.
        """
        v4: list[_Range] = []
        v6: list[_Range] = []
        for prefix, asn in prefixes:
            ver, first, last = _parse_prefix(prefix)
            if not 0 <= asn <= _MAX_ASN:
                raise ValueError(f"AS number {asn} of {prefix!r} is not a 32-bit AS number")
            (v4 if ver == 4 else v6).append(_Range(first, last, asn, prefix))
        self._build(v4, v6, names or {}, source)

    def _build(
        self, v4: list[_Range], v6: list[_Range], names: dict[int, str], source: str
    ) -> None:
        self._names = dict(names)
        self.source = source
        starts, ends, index = _flatten(v4)
        # Compact unsigned 32-bit arrays, not lists of int objects: contiguous memory, so a
        # lookup touches a few cache lines instead of chasing pointers to scattered ints.
        self._v4_start, self._v4_end = array("I", starts), array("I", ends)
        # _v4_bucket[k]: the first range starting at or after k << 16. A lookup bisects
        # only between two neighbours (a handful of ranges), not the whole array.
        counts = [0] * (_BUCKETS + 1)
        for start in starts:
            counts[(start >> 16) + 1] += 1
        self._v4_bucket = array("I", accumulate(counts))
        self._v4_asn = array("I", (v4[i].asn for i in index))
        # One shared, immutable answer per source prefix: lookup() allocates nothing.
        info4 = [ASNInfo(r.asn, self._names.get(r.asn, ""), r.prefix) for r in v4]
        self._v4 = [info4[i] for i in index]
        starts6, ends6, index6 = _flatten(v6)
        info6 = [ASNInfo(r.asn, self._names.get(r.asn, ""), r.prefix) for r in v6]
        self._v6 = (starts6, ends6, [info6[i] for i in index6])

    @classmethod
    def _from_ranges(
        cls, v4: list[_Range], v6: list[_Range], names: dict[int, str], source: str
    ) -> PrefixTable:
        table = cls.__new__(cls)
        table._build(v4, v6, names, source)
        return table

    def __len__(self) -> int:
        """Disjoint ranges after flattening (nested prefixes split their parent)."""
        return len(self._v4_start) + len(self._v6[0])

    def __repr__(self) -> str:
        return f"PrefixTable({len(self)} ranges, {len(self._names)} names, {self.source!r})"

    # -- lookups ---------------------------------------------------------------------------

    def lookup_v4_int(self, ip: int) -> int:
        """The AS number of an IPv4 address given as an integer, or 0 (not routed)."""
        k = ip >> 16
        bucket = self._v4_bucket
        i = bisect_right(self._v4_start, ip, bucket[k], bucket[k + 1]) - 1
        if i >= 0 and ip <= self._v4_end[i]:
            return self._v4_asn[i]
        return 0

    def lookup_asn(self, ip: str) -> int:
        """The AS number of ``ip`` (text), or 0 when no prefix holds it or it is no address."""
        try:
            ver, value = _ip_int(ip)
        except ValueError:
            return 0
        if ver == 4:
            return self.lookup_v4_int(value)
        r = self._find_v6(value)
        return r.asn if r else 0

    def asns_of(self, addresses: list[bytes]) -> list[int]:
        """The AS number of each address as a log holds it (ASCII text), in order; 0 where
        no prefix holds it or it is no address (as :meth:`lookup_asn`).

        Many addresses at once, for a report's or a sensor's distinct clients: IPv4 text
        is turned into integers by a chain of C callables (``map``), and only a list that
        holds something else (IPv6, an odd byte) is looked up one address at a time."""
        try:
            ints = list(map(_FROM_BE, map(_INET4, map(bytes.decode, addresses))))
        except (OSError, ValueError, UnicodeDecodeError):  # ValueError: an embedded NUL
            return [self._asn_of_bytes(a) for a in addresses]
        return list(map(self.lookup_v4_int, ints))

    def _asn_of_bytes(self, address: bytes) -> int:
        text = address.decode("ascii", "replace")
        try:  # the integer IPv4 path; text parsing only for IPv6 and oddities
            return self.lookup_v4_int(int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big"))
        except (OSError, ValueError):
            return self.lookup_asn(text)

    def lookup(self, ip: str) -> ASNInfo | None:
        """AS number, AS name and matching prefix of ``ip``; ``None`` if unrouted.

        Raises ``ValueError`` if ``ip`` is not an IP address.
        """
        ver, value = _ip_int(ip)
        if ver == 4:
            k = value >> 16
            i = bisect_right(self._v4_start, value, self._v4_bucket[k], self._v4_bucket[k + 1]) - 1
            if i < 0 or value > self._v4_end[i]:
                return None
            return self._v4[i]
        return self._find_v6(value)

    def name(self, asn: int) -> str:
        return self._names.get(asn, "")

    def asns(self) -> set[int]:
        return set(self._v4_asn) | {r.asn for r in self._v6[2]}

    def _find_v6(self, value: int) -> ASNInfo | None:
        starts, ends, ranges = self._v6
        i = bisect_right(starts, value) - 1
        if i >= 0 and value <= ends[i]:
            return ranges[i]
        return None

    # -- loading -----------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path, fmt: TableFormat | None = None) -> PrefixTable:
        """Load ``path`` (format from its name, else sniffed); ``TableError`` names the line."""
        path = Path(path)
        try:
            fmt = fmt or _guess_format(path)
            if fmt == "mmdb":
                return _load_mmdb(path)
            v4: list[_Range] = []
            v6: list[_Range] = []
            names: dict[int, str] = {}
            with _open_text(path) as fh:
                reader = _read_pyasn if fmt == "pyasn" else _read_iptoasn
                for ver, r, name in reader(fh, path):
                    (v4 if ver == 4 else v6).append(r)
                    if name:
                        names[r.asn] = name
        except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:  # before OSError
            raise TableError(f"{path}: not a text table: {exc}") from exc
        except OSError as exc:
            raise TableError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        return cls._from_ranges(v4, v6, names, str(path))


def _parse_prefix(prefix: str) -> tuple[int, int, int]:
    """``(version, first, last)`` of a CIDR or a ``first-last`` range."""
    if "-" in prefix:
        a, _, b = prefix.partition("-")
        ver, first = _ip_int(a.strip())
        ver_b, last = _ip_int(b.strip())
        if ver != ver_b:
            raise ValueError(f"range {prefix!r} mixes IPv4 and IPv6")
        if first > last:
            raise ValueError(f"range {prefix!r} ends before it starts")
        return ver, first, last
    ver, first, last, _ = _parse_cidr(prefix)
    return ver, first, last


def _guess_format(path: Path) -> TableFormat:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".mmdb"):
        return "mmdb"
    if name.endswith(".dat"):
        return "pyasn"
    if name.endswith(".tsv"):
        return "iptoasn"
    with path.open("rb") as probe:
        if probe.read(2) != b"\x1f\x8b" and b"MaxMind.com" in path.read_bytes()[-128 * 1024 :]:
            return "mmdb"
    with _open_text(path) as fh:
        for line in fh:
            if line.strip() and not line.startswith((";", "#")):
                return "pyasn" if "/" in line.split()[0] else "iptoasn"
    return "iptoasn"


def _open_text(path: Path) -> IO[str]:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


_Row = tuple[int, _Range, str]


def _read_iptoasn(fh: IO[str], path: Path) -> Iterator[_Row]:
    for lineno, raw in enumerate(fh, 1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise TableError(f"{path}:{lineno}: expected 'start<TAB>end<TAB>ASN...', got {line!r}")
        first, last, asn_text = fields[0].strip(), fields[1].strip(), fields[2].strip()
        try:
            asn = int(asn_text.removeprefix("AS"))
            if not 0 <= asn <= _MAX_ASN:
                raise ValueError
        except ValueError:
            raise TableError(f"{path}:{lineno}: AS number {asn_text!r} is not a number") from None
        if asn == 0:
            continue  # iptoasn's "Not routed"
        try:
            if first.isdigit() and last.isdigit():  # the -u32 flavour
                ver, a, b = 4, int(first), int(last)
                if b >= 1 << 32:
                    raise ValueError(f"{last} is beyond IPv4")
            else:
                ver, a = _ip_int(first)
                ver_b, b = _ip_int(last)
                if ver != ver_b:
                    raise ValueError("range mixes IPv4 and IPv6")
            if a > b:
                raise ValueError("range ends before it starts")
        except ValueError as exc:
            raise TableError(f"{path}:{lineno}: {exc}") from None
        name = fields[4].strip() if len(fields) > 4 else ""
        yield ver, _Range(a, b, asn, _range_text(ver, a, b)), name


def _range_text(ver: int, a: int, b: int) -> str:
    """A CIDR when the range is exactly one block, else ``first-last``."""
    size = b - a + 1
    if ver == 4:
        text = [socket.inet_ntop(socket.AF_INET, v.to_bytes(4, "big")) for v in (a, b)]
        bits = 32
    else:
        text = [str(ipaddress.IPv6Address(v)) for v in (a, b)]
        bits = 128
    if size & (size - 1) == 0 and a % size == 0:  # exactly one CIDR block
        return f"{text[0]}/{bits - size.bit_length() + 1}"
    return f"{text[0]}-{text[1]}"


def _read_pyasn(fh: IO[str], path: Path) -> Iterator[_Row]:
    for lineno, raw in enumerate(fh, 1):
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        fields = line.split()
        try:
            ver, first, last, text = _parse_cidr(fields[0])
            asn = int(fields[1])
            if not 0 <= asn <= _MAX_ASN:
                raise ValueError
        except (ValueError, IndexError):
            raise TableError(f"{path}:{lineno}: expected 'CIDR<TAB>ASN', got {line!r}") from None
        yield ver, _Range(first, last, asn, text), ""


def _load_mmdb(path: Path) -> PrefixTable:
    maxminddb = require(
        "maxminddb", extra="mmdb", needed_for=f"{path}: a MaxMind table needs maxminddb"
    )
    from maxminddb.errors import InvalidDatabaseError

    v4: list[_Range] = []
    v6: list[_Range] = []
    names: dict[int, str] = {}
    try:
        with maxminddb.open_database(str(path)) as reader:
            for network, record in reader:
                if not isinstance(record, dict):
                    continue
                asn = record.get("autonomous_system_number")
                if not isinstance(asn, int) or not 0 < asn <= _MAX_ASN:
                    continue
                org = record.get("autonomous_system_organization")
                if isinstance(org, str):
                    names[asn] = org
                first, last = int(network.network_address), int(network.broadcast_address)
                (v4 if network.version == 4 else v6).append(_Range(first, last, asn, str(network)))
    except (InvalidDatabaseError, ValueError) as exc:
        raise TableError(f"{path}: not a MaxMind database: {exc}") from exc
    return PrefixTable._from_ranges(v4, v6, names, str(path))
