"""AsnLabels: top-N by volume, event slots, everything else ``other``, never more values."""

from __future__ import annotations

import random

import pytest

from middleware.attribution.labels import OTHER, UNKNOWN, AsnLabels


def test_the_biggest_networks_get_their_own_series() -> None:
    labels = AsnLabels(top_n=3, event_slots=0, warmup=100, rerank_every=1000)
    rng = random.Random(4)
    # Three big networks and a long tail, interleaved.
    traffic = [1] * 400 + [2] * 300 + [3] * 200 + list(range(100, 400))
    rng.shuffle(traffic)
    for asn in traffic:
        labels.request(asn)
    assert {labels.request(a) for a in (1, 2, 3)} == {"1", "2", "3"}
    assert labels.request(150) == OTHER
    assert labels.values() == {"1", "2", "3", OTHER, UNKNOWN}


@pytest.mark.parametrize(
    ("asn", "expect"),
    [(0, UNKNOWN), (9506, "9506")],
)
def test_an_event_takes_a_slot_even_for_a_small_network(asn: int, expect: str) -> None:
    labels = AsnLabels(top_n=1, event_slots=2, warmup=1)
    for _ in range(1000):
        labels.request(1)
    assert labels.request(9506) == OTHER  # too small for the volume slots
    assert labels.event(asn) == expect
    if asn:
        # once admitted, its requests are counted under its own label (for the rate)
        assert labels.request(asn) == expect


def test_event_slots_run_out_into_other() -> None:
    labels = AsnLabels(top_n=0, event_slots=2)
    assert [labels.event(a) for a in (10, 11, 12, 10)] == ["10", "11", OTHER, "10"]


@pytest.mark.parametrize("top_n", [0, 1, 5, 20])
def test_cardinality_is_bounded_whatever_the_traffic(top_n: int) -> None:
    labels = AsnLabels(top_n=top_n, event_slots=3, warmup=10, rerank_every=50, max_tracked=100)
    rng = random.Random(top_n)
    seen = set()
    for _ in range(20_000):
        asn = rng.randrange(0, 5000)
        seen.add(labels.request(asn))
        if rng.random() < 0.01:
            seen.add(labels.event(asn))
        assert labels.tracked() <= 100
    assert len(seen) <= labels.max_values == top_n + 3 + 2
    assert seen <= labels.values()


def test_counting_stops_once_every_slot_is_taken() -> None:
    labels = AsnLabels(top_n=2, warmup=4)
    for asn in (1, 1, 2, 2, 3, 4, 5):
        labels.request(asn)
    assert labels.tracked() == 0  # nothing more can be admitted: no need to count


@pytest.mark.parametrize(
    "kwargs",
    [{"top_n": -1}, {"event_slots": -1}, {"warmup": 0}, {"rerank_every": 0}, {"max_tracked": 0}],
)
def test_bad_settings_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=">="):
        AsnLabels(**kwargs)
