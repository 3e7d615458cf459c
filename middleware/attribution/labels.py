"""Bounded ``asn`` label values: a Prometheus series per AS number would be unbounded.

Two budgets, both fixed at start-up:

- ``top_n`` slots for the AS numbers with the most requests. Volumes are counted from
  the first request; the free slots are filled with the largest volumes at re-rankings
  after ``warmup`` requests, then after 2×, 4×... (at most every ``rerank_every``). A slot
  once given is kept: Prometheus counters are cumulative, and moving a network between its
  own series and ``other`` would break ``rate()`` for both. When every slot is taken,
  counting stops (nothing can change any more), so the hot path is one dict lookup.
- ``event_slots`` for AS numbers with corruption events: those are rare, and each one
  matters (the seed incident's network had 76 requests in hundreds of millions, never in
  any top-N by volume). An AS number admitted this way also gets its own request series
  from then on, so its rate can be computed.

Everything else is ``other``; AS 0 (no table entry, private or unknown client) is
``unknown``. So at most ``top_n + event_slots + 2`` values ever exist.
"""

from __future__ import annotations

import heapq
from typing import Final

OTHER: Final = "other"
UNKNOWN: Final = "unknown"


class AsnLabels:
    __slots__ = (
        "_admitted",
        "_counts",
        "_event_slots",
        "_events_used",
        "_full",
        "_max_tracked",
        "_next_rank",
        "_rerank_every",
        "_seen",
        "_top_n",
        "_volume_used",
    )

    def __init__(
        self,
        top_n: int = 20,
        *,
        event_slots: int | None = None,
        warmup: int = 64,
        rerank_every: int = 10_000,
        max_tracked: int = 200_000,
    ) -> None:
        if top_n < 0 or (event_slots is not None and event_slots < 0):
            raise ValueError("top_n and event_slots must be >= 0")
        if warmup < 1 or rerank_every < 1 or max_tracked < 1:
            raise ValueError("warmup, rerank_every and max_tracked must be >= 1")
        self._top_n = top_n
        self._event_slots = top_n if event_slots is None else event_slots
        self._rerank_every = rerank_every
        self._max_tracked = max_tracked
        self._admitted: dict[int, str] = {}
        self._counts: dict[int, int] = {}
        self._seen = 0
        self._next_rank = warmup
        self._volume_used = 0
        self._events_used = 0
        self._full = top_n == 0

    @property
    def max_values(self) -> int:
        """The most label values this policy can ever produce."""
        return self._top_n + self._event_slots + 2

    @property
    def admitted(self) -> int:
        """How many AS numbers have a label of their own (it only grows)."""
        return len(self._admitted)

    def final(self, label: str) -> bool:
        """Whether ``label``, just returned by :meth:`request`, is what that AS number
        gets from now until the next admission (so a caller may remember it), and
        :meth:`request` would count nothing for it: an admitted label, ``unknown``, or
        ``other`` once every volume slot is taken."""
        return label != OTHER or self._full

    def values(self) -> set[str]:
        return {*self._admitted.values(), OTHER, UNKNOWN}

    def tracked(self) -> int:
        """AS numbers whose volume is being counted (bounded by ``max_tracked``)."""
        return len(self._counts)

    def request(self, asn: int, n: int = 1) -> str:
        """The label for ``n`` requests from ``asn``; counts the volume."""
        label = self._admitted.get(asn)
        if label is not None:
            return label
        if asn == 0:
            return UNKNOWN
        if self._full:
            return OTHER
        counts = self._counts
        if asn in counts:
            counts[asn] += n
        elif len(counts) < self._max_tracked:
            counts[asn] = n
        self._seen += n
        if self._seen >= self._next_rank:
            self._rerank()
            return self._admitted.get(asn, OTHER)
        return OTHER

    def event(self, asn: int) -> str:
        """The label for a corruption event from ``asn`` (may take an event slot)."""
        label = self._admitted.get(asn)
        if label is not None:
            return label
        if asn == 0:
            return UNKNOWN
        if self._events_used < self._event_slots:
            self._events_used += 1
            return self._admit(asn)
        return OTHER

    def _admit(self, asn: int) -> str:
        label = str(asn)
        self._admitted[asn] = label
        self._counts.pop(asn, None)
        return label

    def _rerank(self) -> None:
        self._next_rank = self._seen + min(self._seen, self._rerank_every)
        free = self._top_n - self._volume_used
        for asn in heapq.nlargest(free, self._counts, key=self._counts.__getitem__):
            self._admit(asn)
            self._volume_used += 1
        if self._volume_used >= self._top_n:
            self._full = True
            self._counts.clear()  # nothing can be admitted by volume any more
