"""PrefixTable: the same table in every supported format answers the same, longest match wins."""

from __future__ import annotations

import gzip
import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.attribution.prefix_table import ASNInfo, PrefixTable, TableError
from tests.support.mmdb_writer import write_asn_mmdb

# Nested prefixes on purpose: a /8 holding a /16 holding a /24, and IPv6 likewise.
NETWORKS: dict[str, tuple[int, str]] = {
    "20.0.0.0/8": (8075, "MICROSOFT-CORP-MSN-AS-BLOCK"),
    "20.1.0.0/16": (9506, "SINGTEL-FIBRE Singtel Fibre Broadband"),
    "20.1.2.0/24": (4657, "STARHUB-INTERNET StarHub Ltd"),
    "116.14.0.0/15": (9506, "SINGTEL-FIBRE Singtel Fibre Broadband"),
    "2001:db8::/32": (64500, "EXAMPLE-V6"),
    "2001:db8:1::/48": (64501, "EXAMPLE-V6-MORE-SPECIFIC"),
}

CASES = [
    ("20.0.0.1", 8075, "20.0.0.0/8"),
    ("20.1.0.0", 9506, "20.1.0.0/16"),
    ("20.1.2.255", 4657, "20.1.2.0/24"),
    ("20.1.3.0", 9506, "20.1.0.0/16"),
    ("20.255.255.255", 8075, "20.0.0.0/8"),
    ("116.15.255.255", 9506, "116.14.0.0/15"),
    ("116.16.0.0", 0, None),
    ("19.255.255.255", 0, None),
    ("::ffff:20.1.2.3", 4657, "20.1.2.0/24"),
    ("2001:db8::1", 64500, "2001:db8::/32"),
    ("2001:db8:1:ffff::1", 64501, "2001:db8:1::/48"),
    ("2001:db9::1", 0, None),
]


def _iptoasn_rows() -> list[str]:
    rows = []
    for cidr, (asn, name) in NETWORKS.items():
        net = ipaddress.ip_network(cidr)
        rows.append(f"{net[0]}\t{net[-1]}\t{asn}\tSG\t{name}")
    rows.append("30.0.0.0\t30.0.0.255\t0\tNone\tNot routed")  # iptoasn's AS 0
    return rows


def write(tmp_path: Path, fmt: str) -> Path:
    if fmt == "mmdb":
        path = tmp_path / "GeoLite2-ASN.mmdb"
        write_asn_mmdb(path, NETWORKS)
        return path
    if fmt.startswith("iptoasn"):
        text = "\n".join(_iptoasn_rows()) + "\n"
        name = "ip2asn-combined.tsv"
    elif fmt.startswith("u32"):
        v4 = {c: v for c, v in NETWORKS.items() if ":" not in c}
        lines = []
        for cidr, (asn, name_) in v4.items():
            net = ipaddress.ip_network(cidr)
            lines.append(f"{int(net[0])}\t{int(net[-1])}\t{asn}\tSG\t{name_}")
        text = "\n".join(lines) + "\n"
        name = "ip2asn-v4-u32.tsv"
    else:
        text = "; IP-ASN32-DAT file\n; Original source: test\n" + "".join(
            f"{cidr}\t{asn}\n" for cidr, (asn, _) in NETWORKS.items()
        )
        name = "ipasn.dat"
    path = tmp_path / name
    if fmt.endswith(".gz"):
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


FORMATS = ["iptoasn", "iptoasn.gz", "pyasn", "pyasn.gz", "mmdb", "u32"]


@pytest.mark.parametrize(
    ("fmt", "ip", "asn", "prefix"),
    [
        (fmt, *case)
        for fmt in FORMATS
        for case in CASES
        # the u32 flavour is IPv4 only
        if not (fmt == "u32" and ":" in case[0] and not case[0].startswith("::ffff:"))
    ],
)
def test_every_format_gives_the_longest_match(
    tmp_path: Path, fmt: str, ip: str, asn: int, prefix: str | None
) -> None:
    table = PrefixTable.load(write(tmp_path, fmt))
    assert table.lookup_asn(ip) == asn
    info = table.lookup(ip)
    if prefix is None:
        assert info is None
        return
    assert info is not None and info.asn == asn
    if fmt in ("pyasn", "pyasn.gz"):
        assert info.name == ""  # a .dat carries no names
    else:
        assert info.name == NETWORKS[prefix][1]
    if fmt != "mmdb":  # an mmdb tree splits a covering prefix around the nested ones
        assert info.prefix == prefix
    assert ipaddress.ip_address(ip.removeprefix("::ffff:")) in ipaddress.ip_network(info.prefix)


def test_the_integer_path_agrees_with_text(tmp_path: Path) -> None:
    table = PrefixTable.load(write(tmp_path, "iptoasn"))
    for ip, asn, _ in CASES:
        if ":" not in ip:
            assert table.lookup_v4_int(int(ipaddress.IPv4Address(ip))) == asn


def test_iptoasn_names_and_unrouted_rows(tmp_path: Path) -> None:
    table = PrefixTable.load(write(tmp_path, "iptoasn"))
    assert table.lookup("30.0.0.1") is None  # AS 0, "Not routed"
    assert table.name(9506).startswith("SINGTEL")
    assert table.asns() == {8075, 9506, 4657, 64500, 64501}


def test_a_range_that_is_not_one_cidr_keeps_its_bounds(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("1.0.0.0\t1.0.0.5\t13335\tUS\tCLOUDFLARENET\n")
    table = PrefixTable.load(path)
    assert table.lookup("1.0.0.5") == ASNInfo(13335, "CLOUDFLARENET", "1.0.0.0-1.0.0.5")
    assert table.lookup("1.0.0.6") is None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.tsv", "1.0.0.0\t1.0.0.255\n", "bad.tsv:1: expected 'start<TAB>end<TAB>ASN"),
        ("bad.tsv", "# c\n1.0.0.0\t1.0.0.255\tASx\tUS\tX\n", "bad.tsv:2: AS number 'ASx'"),
        ("bad.tsv", "1.0.0.9\t1.0.0.1\t1\tUS\tX\n", "ends before it starts"),
        ("bad.tsv", "1.0.0.0\t::1\t1\tUS\tX\n", "mixes IPv4 and IPv6"),
        ("bad.tsv", "1.0.0.0\tnope\t1\tUS\tX\n", "not an IP address"),
        ("bad.dat", "; x\n1.0.0.0/33\t5\n", "bad.dat:2: expected 'CIDR<TAB>ASN'"),
        ("bad.dat", "1.0.0.0/24\n", "bad.dat:1:"),
        ("bad.dat", "1.0.0.0/24\t4294967296\n", "bad.dat:1:"),
        ("bad.tsv", "1.0.0.0\t1.0.0.255\t-5\tUS\tX\n", "AS number '-5'"),
        ("bad.mmdb", "not a database", "not a MaxMind database"),
        ("bad.tsv.gz", "not gzip really", "not a text table"),
    ],
)
def test_a_bad_table_is_named_with_its_line(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(b"\x1f\x8b" + content.encode())
    else:
        path.write_text(content)
    with pytest.raises(TableError, match=message.replace("(", r"\(")) as err:
        PrefixTable.load(path)
    assert str(path) in str(err.value)


def test_a_missing_file_is_a_table_error(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="cannot read"):
        PrefixTable.load(tmp_path / "absent.tsv")


@pytest.mark.parametrize(
    ("content", "expect"),
    [("1.0.0.0/24\t5\n", 5), ("1.0.0.0\t1.0.0.255\t7\tUS\tX\n", 7)],
)
def test_format_is_sniffed_without_a_known_suffix(
    tmp_path: Path, content: str, expect: int
) -> None:
    path = tmp_path / "table.txt"
    path.write_text(content)
    assert PrefixTable.load(path).lookup_asn("1.0.0.9") == expect


@pytest.mark.parametrize("bad", ["", "1.2.3", "1.2.3.4.5", "::g", "example.com", "1.2.3.4/24"])
def test_not_an_address(bad: str) -> None:
    table = PrefixTable([("1.0.0.0/8", 1)])
    assert table.lookup_asn(bad) == 0
    with pytest.raises(ValueError, match="not an IP address"):
        table.lookup(bad)


# -- property: the flattened arrays answer like a brute-force longest-prefix match ------------

prefix_v4 = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
    lambda t: ipaddress.IPv4Network((t[0] >> (32 - t[1]) << (32 - t[1]) if t[1] else 0, t[1]))
)
# Small universe so that prefixes nest and probes hit them.
prefix_small = st.tuples(st.integers(0, 255), st.integers(24, 32)).map(
    lambda t: ipaddress.IPv4Network(((0x0A000000 | t[0]) >> (32 - t[1]) << (32 - t[1]), t[1]))
)


def brute(nets: list[tuple[ipaddress.IPv4Network, int]], ip: ipaddress.IPv4Address) -> int:
    best: tuple[int, int] | None = None
    for net, asn in nets:  # the last of equal prefixes wins, as in the table
        if ip in net and (best is None or net.prefixlen >= best[0]):
            best = (net.prefixlen, asn)
    return best[1] if best else 0


@settings(max_examples=150)
@given(
    st.lists(st.tuples(st.one_of(prefix_small, prefix_v4), st.integers(1, 99)), max_size=12),
    st.lists(st.integers(0, 255), min_size=1, max_size=20),
)
def test_longest_match_equals_brute_force(
    nets: list[tuple[ipaddress.IPv4Network, int]], probes: list[int]
) -> None:
    unique = list({net: (net, asn) for net, asn in nets}.values())
    table = PrefixTable([(str(net), asn) for net, asn in unique])
    for low in probes:
        ip = ipaddress.IPv4Address(0x0A000000 | low)
        assert table.lookup_asn(str(ip)) == brute(unique, ip)
    for net, _ in unique:  # each prefix's own bounds
        for ip in (net[0], net[-1]):
            assert table.lookup_asn(str(ip)) == brute(unique, ip)


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(0, 2**20), st.integers(1, 300)), min_size=1, max_size=30))
def test_hand_made_overlapping_ranges_never_answer_outside_the_range(
    ranges: list[tuple[int, int]],
) -> None:
    # Partial overlaps cannot happen with CIDRs, but a hand-made TSV may hold them:
    # whatever the table answers must be a range that holds the address.
    items = [
        (f"{ipaddress.IPv4Address(a)}-{ipaddress.IPv4Address(a + n)}", i + 1)
        for i, (a, n) in enumerate(ranges)
    ]
    table = PrefixTable(items)
    for i, (a, n) in enumerate(ranges):
        for ip in (a, a + n, a + n // 2):
            info = table.lookup(str(ipaddress.IPv4Address(ip)))
            assert info is not None, (i, ip)
            first, last = (int(ipaddress.IPv4Address(x)) for x in info.prefix.split("-"))
            assert first <= ip <= last


@settings(max_examples=200)
@given(st.ip_addresses(), st.integers(0, 128))
def test_cidr_parsing_agrees_with_ipaddress(address: ipaddress._BaseAddress, plen: int) -> None:
    from middleware.attribution.prefix_table import _parse_cidr

    plen = min(plen, address.max_prefixlen)
    text = f"{address}/{plen}"
    net = ipaddress.ip_network(text, strict=False)
    ver, first, last, canonical = _parse_cidr(text)
    assert (ver, first, last) == (net.version, int(net[0]), int(net[-1]))
    assert ipaddress.ip_network(canonical) == net


@pytest.mark.parametrize(
    "text", ["1.2.3.0/33", "1.2.3.0/", "1.2.3.0/+5", "1.2.3.0/٣", "x/8", "1.2.3/24", "::/129", ""]
)
def test_cidr_parsing_refuses_what_is_not_a_prefix(text: str) -> None:
    from middleware.attribution.prefix_table import _parse_cidr

    with pytest.raises(ValueError, match="not a prefix"):
        _parse_cidr(text)


@settings(max_examples=60)
@given(
    st.lists(st.integers(1 << 24, (223 << 24) - 1), min_size=2, max_size=40, unique=True),
    st.booleans(),
)
def test_an_iptoasn_file_round_trips(points: list[int], gz: bool) -> None:
    import tempfile

    bounds = sorted(points)
    ranges = [(bounds[i], bounds[i + 1] - 1, 64512 + i) for i in range(0, len(bounds) - 1, 2)]
    text = "".join(
        f"{ipaddress.IPv4Address(a)}\t{ipaddress.IPv4Address(b)}\t{asn}\tSG\tNET-{asn}\n"
        for a, b, asn in ranges
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("t.tsv.gz" if gz else "t.tsv")
        path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
        table = PrefixTable.load(path)
    for a, b, asn in ranges:
        for ip in (a, b, (a + b) // 2):
            info = table.lookup(str(ipaddress.IPv4Address(ip)))
            assert info is not None and (info.asn, info.name) == (asn, f"NET-{asn}")
            assert table.lookup_v4_int(ip) == asn
        assert table.lookup_v4_int(b + 1) in (0, *(x[2] for x in ranges if x[0] == b + 1))


_IPV4 = st.one_of(
    st.sampled_from([ip.encode() for ip, _, _ in CASES if ":" not in ip]),
    st.integers(0, 2**32 - 1).map(lambda i: str(ipaddress.IPv4Address(i)).encode()),
)
_OTHER = st.sampled_from(
    [
        *(b"2001:db8:1::5", b"::ffff:20.1.2.3", b"fe80::1%eth0", b"20.1.2.3\x00", b"", b"-"),
        *(b"20.1.2", b"\xff\xfe", b"caf\xc3\xa9", b" 20.1.2.3"),
    ]
)


@settings(max_examples=200)
@given(st.one_of(st.lists(_IPV4, max_size=20), st.lists(st.one_of(_IPV4, _OTHER), max_size=20)))
def test_asns_of_many_equals_one_at_a_time(addresses: list[bytes]) -> None:
    """The batch path (C callables for an all-IPv4 list) and its fallback answer as
    lookup_asn does, address by address."""
    table = PrefixTable(((p, asn) for p, (asn, _) in NETWORKS.items()))
    expected = [table.lookup_asn(a.decode("ascii", "replace")) for a in addresses]
    assert table.asns_of(addresses) == expected
