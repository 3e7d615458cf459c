"""One direction of a TCP connection → its bytes in order, once each.

Rules (the ones a receiving stack follows, so that the bytes are what the server read):

- the first copy of a byte wins: a retransmission only contributes bytes beyond what was
  already delivered;
- a segment beyond the next expected byte waits until the hole is filled; when more than
  ``max_pending`` bytes wait, or the stream is flushed, the hole is given up as a gap and
  the consumer is told (it then resynchronises at the next request);
- sequence numbers are compared modulo 2**32 (serial-number arithmetic, RFC 1982), so a
  connection that carries more than 4 GB is followed across the wrap.

Without a SYN in the capture the stream starts at the first segment seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Generic, TypeVar

Info = TypeVar("Info")
_MOD: Final = 1 << 32
_HALF: Final = 1 << 31
MAX_PENDING: Final = 1 << 20


def seq_diff(a: int, b: int) -> int:
    """``a - b`` in sequence space: positive when ``a`` is after ``b``."""
    return ((a - b + _HALF) % _MOD) - _HALF


class Flow(Generic[Info]):
    """Deliver one direction's payload in order to ``deliver(data, info)``.

    ``info`` travels with each piece of payload, so that the consumer knows which frame
    every delivered byte came from; ``gap(n)`` is called when ``n`` bytes are missing for
    good.
    """

    __slots__ = (
        "_deliver",
        "_gap",
        "_max_pending",
        "_pending",
        "_pending_bytes",
        "gaps",
        "nxt",
    )

    def __init__(
        self,
        deliver: Callable[[bytes, Info], None],
        gap: Callable[[int], None],
        *,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._deliver = deliver
        self._gap = gap
        self._max_pending = max_pending
        self._pending: dict[int, tuple[bytes, Info]] = {}
        self._pending_bytes = 0
        self.nxt: int | None = None  # the next byte expected, once known
        self.gaps = 0

    def syn(self, seq: int) -> None:
        """A SYN: data starts at ``seq + 1``."""
        if self.nxt is None:
            self.nxt = (seq + 1) % _MOD

    def segment(self, seq: int, payload: bytes, info: Info) -> None:
        if not payload:
            return
        if self.nxt is None:
            self.nxt = seq
        ahead = seq_diff(seq, self.nxt)
        if ahead > 0:
            old = self._pending.get(seq)
            if old is None or len(old[0]) < len(payload):
                self._pending_bytes += len(payload) - (len(old[0]) if old else 0)
                self._pending[seq] = (payload, info)
            if self._pending_bytes > self._max_pending:
                self.give_up_hole()
            return
        if ahead + len(payload) <= 0:
            return  # a retransmission of bytes already delivered
        self._take(payload[-ahead:] if ahead else payload, info)
        self._drain()

    def _take(self, data: bytes, info: Info) -> None:
        assert self.nxt is not None
        self.nxt = (self.nxt + len(data)) % _MOD
        self._deliver(data, info)

    def _drain(self) -> None:
        while self._pending:
            assert self.nxt is not None
            nxt = self.nxt
            ready = [s for s in self._pending if seq_diff(s, nxt) <= 0]
            if not ready:
                return
            for s in ready:
                payload, info = self._pending.pop(s)
                self._pending_bytes -= len(payload)
                behind = -seq_diff(s, self.nxt)
                if behind < len(payload):
                    self._take(payload[behind:], info)

    def give_up_hole(self) -> None:
        """Skip to the earliest waiting segment: those bytes will never come."""
        if not self._pending or self.nxt is None:
            return
        nxt = self.nxt
        self.nxt = min(self._pending, key=lambda s: seq_diff(s, nxt))
        self.gaps += 1
        self._gap(seq_diff(self.nxt, nxt))
        self._drain()

    def flush(self) -> None:
        """The stream ends: deliver whatever waits, across holes."""
        while self._pending:
            self.give_up_hole()
