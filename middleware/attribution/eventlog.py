"""Where each corruption event is written: one JSON line and one INFO log line, both capped.

A flood of corrupted requests (a broken middlebox, or someone who wants to fill the disk)
must not grow the events file or the log without bound. Two caps:

- **A rate limit** (token bucket: ``rate`` lines a second, bursts of ``burst``). An event
  over the limit is still counted in ``edgeward_corruption_events_total`` (counting is
  cheap and bounded) but gets neither a file line nor a log line: it is *suppressed*,
  counted in ``edgeward_attribution_suppressed_total``, and a summary line says how many
  were suppressed, at most every ``summary_every`` seconds and when the log closes.
- **Size-based rotation** of the events file: before a line would take the file past
  ``max_bytes`` it is renamed ``<name>.1`` (older ones shift up to ``<name>.<keep>``, the
  oldest is removed) and a new file is started. Every line is still flushed as it is
  written, so a crash loses nothing that was written.

Values are written strictly (``allow_nan=False``): a non-finite number never reaches the
file, where every reader would have to cope with ``Infinity``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path
from typing import IO, Any, Final

from edgeward.logs import get_logger
from middleware.metrics import ATTRIBUTION_SUPPRESSED

log = get_logger("middleware.attribution")

DEFAULT_RATE: Final = 20.0  # event lines a second, sustained
DEFAULT_BURST: Final = 200  # event lines at once
DEFAULT_MAX_BYTES: Final = 100 << 20
DEFAULT_KEEP: Final = 5


class RateLimit:
    """A token bucket: :meth:`allow` is true for ``rate`` calls a second, ``burst`` at once."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int) -> None:
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"rate must be a finite number above 0, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class RotatingLines:
    """Append lines to ``path``, flushed one by one, rotated by size (see the module doc)."""

    def __init__(self, path: Path, *, max_bytes: int, keep: int) -> None:
        if max_bytes < 1024:
            raise ValueError(f"max_bytes must be >= 1024, got {max_bytes}")
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.rotations = 0
        self._out: IO[str] | None = None
        self._size = 0

    def write(self, line: str) -> None:
        """Write ``line`` plus a newline (ASCII); ``OSError`` if the disk refuses it."""
        data = line + "\n"
        if self._out is None:
            self._open()
        if self._size and self._size + len(data) > self.max_bytes:
            self._rotate()
        assert self._out is not None
        self._out.write(data)
        self._out.flush()  # one line at a time: a crash loses nothing written
        self._size += len(data)

    @property
    def is_open(self) -> bool:
        return self._out is not None

    def close(self) -> None:
        if self._out is not None:
            with contextlib.suppress(OSError):
                self._out.close()
            self._out = None

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._out = self.path.open("a", encoding="ascii")
        self._size = self._out.tell()

    def _rotate(self) -> None:
        self.close()
        for k in range(self.keep - 1, 0, -1):
            older = self._numbered(k)
            if older.exists():
                os.replace(older, self._numbered(k + 1))
        os.replace(self.path, self._numbered(1))
        self.rotations += 1
        self._open()

    def _numbered(self, k: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{k}")


class EventLog:
    """Rate-limited event lines: to a rotating JSONL file (optional) and the INFO log."""

    def __init__(
        self,
        path: str | Path | None,
        *,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep: int = DEFAULT_KEEP,
        summary_every: float = 60.0,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.limit = RateLimit(rate, burst)
        self.lines = RotatingLines(self.path, max_bytes=max_bytes, keep=keep) if self.path else None
        self.summary_every = summary_every
        self.suppressed = 0  # in all
        self._unreported = 0  # since the last summary line
        self._summarised = time.monotonic()

    def record(self, row: dict[str, Any], message: str, *args: object) -> bool:
        """Log ``message % args`` at INFO and write ``row`` as a JSON line, unless over the
        rate limit (then counted as suppressed). True when written."""
        if not self.limit.allow():
            self.suppressed += 1
            self._unreported += 1
            ATTRIBUTION_SUPPRESSED.inc()
            if time.monotonic() - self._summarised >= self.summary_every:
                self.summary()
            return False
        log.info(message, *args, extra={k: row[k] for k in _LOG_KEYS if k in row})
        if self.lines is not None:
            try:
                self.lines.write(json.dumps(_finite(row), ensure_ascii=True, allow_nan=False))
            except (OSError, ValueError) as exc:
                log.error("cannot write event to %s: %s", self.path, exc)
        return True

    def summary(self) -> None:
        """Log how many event lines were suppressed since the last summary (if any)."""
        if self._unreported:
            log.warning(
                "rate limit: %d corruption event line(s) suppressed in the last %.0f s "
                "(%d in all; limit %g a second, bursts of %d); the metrics count them all",
                self._unreported,
                time.monotonic() - self._summarised,
                self.suppressed,
                self.limit.rate,
                self.limit.burst,
            )
        self._unreported = 0
        self._summarised = time.monotonic()

    def close(self) -> None:
        self.summary()
        if self.lines is not None:
            self.lines.close()


_LOG_KEYS: Final = ("kind", "source", "client", "asn", "evidence_hex")


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with any non-finite float replaced by ``None`` (JSON ``null``)."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}
