"""Client address behind proxies: every edge case of the threat model, one row each."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.corruption.client_address import AddressSet, client_address, parse_address

LOCAL = ("127.0.0.1", "::1")
CHAIN = ("127.0.0.1", "10.0.0.0/8")  # nginx on loopback, a load balancer in 10/8


@pytest.mark.parametrize(
    ("trusted", "peer", "xff", "expect"),
    [
        # no header: the peer, trusted or not
        (LOCAL, "203.0.113.9", [], "203.0.113.9"),
        (LOCAL, "127.0.0.1", [], "127.0.0.1"),
        # an untrusted peer's header is ignored, whatever it claims
        (LOCAL, "203.0.113.9", ["1.2.3.4"], "203.0.113.9"),
        (LOCAL, "203.0.113.9", ["127.0.0.1"], "203.0.113.9"),
        # a trusted peer: the rightmost entry is the client
        (LOCAL, "127.0.0.1", ["116.14.2.3"], "116.14.2.3"),
        (LOCAL, "::1", ["116.14.2.3"], "116.14.2.3"),
        # a client-forged left part is ignored: the proxy appended the real peer on the right
        (LOCAL, "127.0.0.1", ["6.6.6.6, 116.14.2.3"], "116.14.2.3"),
        # trusted hops are skipped right to left
        (CHAIN, "127.0.0.1", ["116.14.2.3, 10.1.2.3"], "116.14.2.3"),
        (CHAIN, "127.0.0.1", ["6.6.6.6, 116.14.2.3, 10.9.9.9, 10.1.2.3"], "116.14.2.3"),
        # but a trusted-looking entry left of an untrusted one is not reached
        (CHAIN, "127.0.0.1", ["10.5.5.5, 116.14.2.3"], "116.14.2.3"),
        # every entry trusted: the leftmost one
        (CHAIN, "127.0.0.1", ["10.1.1.1, 10.2.2.2"], "10.1.1.1"),
        # repeated headers are one list, in order
        (LOCAL, "127.0.0.1", ["6.6.6.6", "116.14.2.3"], "116.14.2.3"),
        # spaces and empty items
        (LOCAL, "127.0.0.1", [" 116.14.2.3 ,  "], "116.14.2.3"),
        (LOCAL, "127.0.0.1", [" , "], "127.0.0.1"),
        (LOCAL, "127.0.0.1", [""], "127.0.0.1"),
        # ports and brackets, as some proxies write them
        (LOCAL, "127.0.0.1", ["116.14.2.3:51234"], "116.14.2.3"),
        (LOCAL, "127.0.0.1", ["[2406:3000::1]:443"], "2406:3000::1"),
        (LOCAL, "127.0.0.1", ["[2406:3000::1]"], "2406:3000::1"),
        (LOCAL, "127.0.0.1", ["2406:3000::1"], "2406:3000::1"),
        # normalised text form
        (LOCAL, "127.0.0.1", ["2406:3000:0:0::0001"], "2406:3000::1"),
        (LOCAL, "127.0.0.1", ["::ffff:116.14.2.3"], "116.14.2.3"),
        # a dual-stack socket reports IPv4 peers as IPv4-mapped IPv6: still trusted
        (LOCAL, "::ffff:127.0.0.1", ["116.14.2.3"], "116.14.2.3"),
        (LOCAL, "::ffff:203.0.113.9", ["116.14.2.3"], "203.0.113.9"),
        # garbage ends the walk: no guess
        (LOCAL, "127.0.0.1", ["unknown"], None),
        (LOCAL, "127.0.0.1", ["116.14.2.3, _hidden"], None),
        (LOCAL, "127.0.0.1", ["[2406:3000::1"], None),
        (LOCAL, "127.0.0.1", ["999.1.1.1"], None),
        # garbage left of the client does not matter
        (LOCAL, "127.0.0.1", ["garbage, 116.14.2.3"], "116.14.2.3"),
        # trust everyone: only behind a proxy nothing else can reach
        (("*",), "203.0.113.9", ["116.14.2.3"], "116.14.2.3"),
        (("*",), "203.0.113.9", ["6.6.6.6, 116.14.2.3"], "6.6.6.6"),
        # networks
        (("192.168.0.0/16",), "192.168.7.7", ["116.14.2.3"], "116.14.2.3"),
        (("192.168.0.0/16",), "192.169.0.1", ["116.14.2.3"], "192.169.0.1"),
        (("fd00::/8",), "fd12::1", ["116.14.2.3"], "116.14.2.3"),
        # no peer (a Unix socket): nothing to attribute
        (LOCAL, None, ["116.14.2.3"], None),
        # an odd peer string is not an address
        (LOCAL, "unix:/run/app.sock", [], None),
    ],
)
def test_client_address(
    trusted: tuple[str, ...], peer: str | None, xff: list[str], expect: str | None
) -> None:
    assert client_address(peer, xff, AddressSet(trusted)) == expect


@pytest.mark.parametrize(
    ("spec", "inside", "outside"),
    [
        ("127.0.0.1, 10.0.0.0/8", "10.2.3.4", "11.0.0.1"),
        ("*", "203.0.113.9", None),
        (["::1", "fd00::/8"], "fd00::5", "fe80::1"),
        ("", None, "127.0.0.1"),  # an empty string trusts nobody
    ],
)
def test_trusted_proxies_from_a_list_or_a_comma_separated_string(
    spec: str | list[str], inside: str | None, outside: str | None
) -> None:
    trusted = AddressSet(spec)
    assert inside is None or inside in trusted
    assert outside is None or outside not in trusted


@pytest.mark.parametrize("bad", ["nope", "1.2.3.4/40", "10.0.0.1/8/1", "localhost", "1.2.3.4,x"])
def test_a_bad_trusted_entry_is_refused_with_its_value(bad: str) -> None:
    with pytest.raises(ValueError, match="trusted_proxies"):
        AddressSet([bad])
    with pytest.raises(ValueError, match="trusted_proxies"):
        AddressSet(bad)


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("1.2.3.4", "1.2.3.4"),
        (" 1.2.3.4 ", "1.2.3.4"),
        ("1.2.3.4:80", "1.2.3.4"),
        ("[::1]:80", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("1.2.3", None),
        ("[::1", None),
    ],
)
def test_parse_address(text: str, expect: str | None) -> None:
    parsed = parse_address(text)
    assert (str(parsed) if parsed is not None else None) == expect


def test_membership_cache_stays_bounded() -> None:
    trusted = AddressSet(["10.0.0.0/8"])
    for i in range(10_000):
        assert f"10.0.{i // 256}.{i % 256}" in trusted
        assert f"11.0.{i // 256}.{i % 256}" not in trusted
    assert len(trusted._cache) <= 4096


# -- properties: whatever a client writes into the header ------------------------------------

entry = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(lambda a: f"{a}:{a.packed[0] * 200}"),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]:443"),
    st.text(max_size=12),
)


@settings(max_examples=200)
@given(st.lists(entry, max_size=6), st.sampled_from(["127.0.0.1", "203.0.113.9", "::1"]))
def test_the_answer_is_the_peer_or_an_address_from_the_header(
    entries: list[str], peer: str
) -> None:
    header = ", ".join(entries)
    trusted = AddressSet(LOCAL)
    result = client_address(peer, [header], trusted)
    if peer == "203.0.113.9":
        assert result == peer  # an untrusted peer is never overridden
        return
    if result is None or result == peer:
        return
    normalised = {str(a) for a in map(parse_address, header.split(",")) if a is not None}
    assert result in normalised  # never an address nobody wrote
