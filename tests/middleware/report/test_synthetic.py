"""Synthetic nginx traffic: networks, the two table formats, the seed's corruption, and a
log whose ``Truth`` is what the log really holds (read back with the edge parser)."""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path
from typing import Literal

import pytest

from middleware.attribution.prefix_table import PrefixTable
from middleware.edge.nginx_log import parse_combined
from middleware.report.synthetic import (
    SEED_ASN,
    corrupt,
    default_corrupted,
    generate_log,
    make_networks,
    write_demo,
    write_iptoasn,
    write_pyasn,
)


@pytest.mark.parametrize(("count", "rank"), [(50, 40), (10, 3), (1, 1)])
def test_make_networks(count: int, rank: int) -> None:
    nets = make_networks(count, seed=7, incident_rank=rank)
    assert len(nets) == count and len({n.asn for n in nets}) == count
    assert nets[rank - 1].asn == SEED_ASN
    assert sum(n.weight for n in nets) == pytest.approx(1.0)
    assert [n.weight for n in nets] == sorted((n.weight for n in nets), reverse=True)  # Zipf
    prefixes = [p for n in nets for p in n.prefixes]
    assert all(p.is_global and 16 <= p.prefixlen <= 22 for p in prefixes)
    assert not any(a.overlaps(b) for i, a in enumerate(prefixes) for b in prefixes[i + 1 :])
    assert make_networks(count, seed=7, incident_rank=rank) == nets  # one seed, one answer


@pytest.mark.parametrize("writer", [write_iptoasn, write_pyasn])
def test_both_table_formats_map_every_prefix(writer: object, tmp_path: Path) -> None:
    nets = make_networks(30, seed=3, incident_rank=5)
    assert callable(writer)
    table = PrefixTable.load(writer(nets, tmp_path / "table"))
    for n in nets:
        for p in n.prefixes:
            for address in (p.network_address, p.broadcast_address, p.network_address + 1):
                assert table.lookup_asn(str(address)) == n.asn
    assert table.lookup_asn("10.0.0.1") == 0  # private: in no generated prefix


@pytest.mark.parametrize("seed", range(8))
def test_corrupt_replaces_two_characters_with_the_signature(seed: int) -> None:
    target = "/media/IMG_0042.jpg?w=640"
    raw, at = corrupt(target, random.Random(seed))
    assert len(raw) == len(target) and 1 <= at < len(target) - 1
    assert raw[at : at + 2] in (b"\x80\x01", b"\x80\x04")
    assert raw[:at] + raw[at + 2 :] == (target[:at] + target[at + 2 :]).encode()


@pytest.mark.parametrize(
    ("lines", "expected"), [(1, 1), (2, 2), (5, 3), (2_999, 3), (10_000, 10), (10**6, 76)]
)
def test_default_corrupted(lines: int, expected: int) -> None:
    assert default_corrupted(lines) == expected


@pytest.mark.parametrize("spread", ["one_asn", "even"])
def test_generate_log_truth_is_what_the_log_holds(
    tmp_path: Path, spread: Literal["one_asn", "even"]
) -> None:
    nets = make_networks(20, seed=2, incident_rank=4)
    table = PrefixTable.load(write_iptoasn(nets, tmp_path / "t.tsv"))
    log = tmp_path / "access.log"
    truth = generate_log(
        log, nets, lines=3_000, corrupted=12, spread=spread, seed=5, duration=600, clients=200
    )
    requests: dict[int, int] = {}
    corrupted: dict[int, int] = {}
    targets = []
    times = []
    for line in log.read_bytes().splitlines():
        record = parse_combined(line)
        asn = table.lookup_asn(record.client)
        requests[asn] = requests.get(asn, 0) + 1
        times.append(record.time)
        if b"\x80" in record.request:
            corrupted[asn] = corrupted.get(asn, 0) + 1
            targets.append(record.target)
    assert truth.lines == sum(requests.values()) == 3_000
    assert truth.requests == requests and truth.corrupted == corrupted
    assert sum(corrupted.values()) == 12 == len(truth.corrupted_targets)
    if spread == "one_asn":
        assert set(corrupted) == {SEED_ASN}
    assert times == sorted(times) and times[-1] - times[0] <= 600
    assert len(targets) == len(truth.original_targets)


def test_write_demo_writes_a_log_and_its_table(tmp_path: Path) -> None:
    truth = write_demo(tmp_path / "a.log", tmp_path / "t.tsv", lines=2_000, networks=50)
    assert truth.corrupted == {SEED_ASN: 3}  # default_corrupted(2000)
    first = (tmp_path / "t.tsv").read_text().splitlines()[0].split("\t")
    assert len(first) == 5 and ipaddress.ip_address(first[0])
    assert len((tmp_path / "a.log").read_bytes().splitlines()) == 2_000
