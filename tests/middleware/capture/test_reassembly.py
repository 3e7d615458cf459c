"""TCP reassembly: any order, duplicates and overlaps give the bytes once, in order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.capture.reassembly import Flow, seq_diff

STREAM = bytes(range(256)) * 3


class Sink:
    def __init__(self) -> None:
        self.data = b""
        self.pieces: list[tuple[bytes, int]] = []
        self.gaps = 0
        self.missing = 0

    def deliver(self, data: bytes, info: int) -> None:
        self.data += data
        self.pieces.append((data, info))

    def gap(self, missing: int) -> None:
        self.gaps += 1
        self.missing += missing


@settings(max_examples=200, deadline=None)
@given(st.data(), st.sampled_from([0, 1000, (1 << 32) - 300]))
def test_any_order_duplicates_and_overlaps_give_the_stream_once(
    data: st.DataObject, isn: int
) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(1, len(STREAM) - 1), max_size=30)))
    bounds = list(zip([0, *cuts], [*cuts, len(STREAM)], strict=True))
    # Retransmissions may cover other boundaries than the original segments.
    extra = data.draw(
        st.lists(
            st.tuples(st.integers(0, len(STREAM) - 1), st.integers(1, 200)).map(
                lambda t: (t[0], min(len(STREAM), t[0] + t[1]))
            ),
            max_size=10,
        )
    )
    order = data.draw(st.permutations(bounds + extra))
    sink = Sink()
    flow: Flow[int] = Flow(sink.deliver, sink.gap)
    flow.syn(isn)
    for a, b in order:
        flow.segment((isn + 1 + a) % (1 << 32), STREAM[a:b], a)
    assert sink.data == STREAM
    assert sink.gaps == 0
    # Each piece's info is the offset of the segment it came from, at or before it.
    pos = 0
    for piece, info in sink.pieces:
        assert info <= pos
        pos += len(piece)


def test_a_hole_is_given_up_when_too_much_waits() -> None:
    sink = Sink()
    flow: Flow[int] = Flow(sink.deliver, sink.gap, max_pending=100)
    flow.syn(0)
    flow.segment(1, b"a" * 10, 0)
    flow.segment(1 + 20, b"b" * 60, 1)  # 10 bytes missing before it
    assert sink.data == b"a" * 10
    flow.segment(1 + 80, b"c" * 60, 2)  # now 120 bytes wait: the hole is given up
    assert sink.data == b"a" * 10 + b"b" * 60 + b"c" * 60
    assert (sink.gaps, flow.gaps, sink.missing) == (1, 1, 10)


def test_flush_delivers_across_holes() -> None:
    sink = Sink()
    flow: Flow[int] = Flow(sink.deliver, sink.gap)
    flow.segment(500, b"first", 0)  # no SYN: the stream starts at the first segment
    flow.segment(520, b"third", 2)
    flow.segment(510, b"second", 1)
    flow.flush()
    assert sink.data == b"firstsecondthird"
    assert sink.gaps == 2


def test_seq_diff_wraps() -> None:
    assert seq_diff(5, (1 << 32) - 5) == 10
    assert seq_diff((1 << 32) - 5, 5) == -10
