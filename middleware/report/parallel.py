"""``dpi-report --jobs N``: the inputs read by N processes, the report the same as with one.

**Parts.** Each input is one :class:`~middleware.report.inputs.Part`, except a large plain
log, which is split by byte range into a few parts per process; parts start and end on
the block grid (:mod:`middleware.report.inputs`), so every block is the one a whole read
scans. Compressed files and captures are read whole. Workers get only the part (a path
and two offsets) and send back a :class:`~middleware.report.inputs.Collected`: the
client counts, the corrupted requests and the part's statistics, a few hundred KB.

**Merging.** Results are put back in input order, whatever order they finished in: the
parts of a file are :func:`~middleware.report.inputs.joined` into one read of that file,
and files are added with :meth:`Collected.absorb`, as a read in one process does.

**Quotes per line.** A ``combined`` scan fixes the log's quotes per line on the first
lines that pass its shape check, and later lines are checked against it; so a part that
starts later is given the value a whole read would have at its start. The value is
guessed from the file's first lines and checked against what the previous part ended
with; a wrong guess (a log whose first lines are odd) re-reads that part here with the
right value, so the counts are the same as one read's in every case.

**Processes.** This process and ``N - 1`` workers of a ``forkserver`` pool take parts
from one queue, biggest first: a worker needs about half a second to start (a fresh
interpreter, the reading code, and multiprocessing re-running a console script's main
module), which this process spends reading. ``forkserver`` is safe in a process with
threads (the progress bar and the pool's feeder are threads). Workers ignore Ctrl-C; the
parent stops them. Progress is a shared byte counter that the parent polls. Below
:data:`POOL_FROM` bytes in all, starting processes costs more than it saves, and
everything is read here.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Final

from middleware.edge.fastscan import CombinedScan
from middleware.edge.realip import RealClient
from middleware.report.inputs import (
    BLOCK,
    STDIN,
    Collected,
    Part,
    PartRead,
    compressed,
    head_lines,
    joined,
    part_of,
    read_file,
    read_part,
)

POOL_FROM: Final = 8 << 20  # bytes of input in all below which no process is started
PARTS_PER_JOB: Final = 3  # a few parts per process: a slow one does not hold the rest
_POLL: Final = 0.1  # seconds between progress updates


def cpus() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def plan(
    paths: Sequence[Path], jobs: int, *, trusted: RealClient | None = None, block: int = BLOCK
) -> list[list[Part]]:
    """The parts of each input, in order. A plain log of at least two blocks is split
    into up to ``PARTS_PER_JOB * jobs`` parts of whole blocks when ``jobs > 1``."""
    out: list[list[Part]] = []
    for path in paths:
        whole = dataclasses.replace(part_of(path), block=block)
        size = path.stat().st_size
        blocks = math.ceil(size / block)
        if jobs == 1 or blocks < 2 or whole.kind in ("pcap", "pcapng") or compressed(path):
            out.append([whole])
            continue
        step = math.ceil(blocks / min(blocks, jobs * PARTS_PER_JOB)) * block
        quotes = _quotes(path, trusted) if whole.kind == "nginx-combined" else None
        out.append(
            [
                Part(
                    whole.path,
                    whole.kind,
                    start=start,
                    end=start + step if start + step < size else None,
                    quotes=quotes if start else None,
                    block=block,
                )
                for start in range(0, size, step)
            ]
        )
    return out


def _quotes(path: Path, trusted: RealClient | None) -> int | None:
    """What a scan of the log's first lines learns: the likely quotes per line."""
    scan = CombinedScan(trusted)
    scan.feed(head_lines(path))
    return scan.quotes


def read_all(
    paths: Sequence[Path],
    *,
    jobs: int,
    trusted: RealClient | None = None,
    advance: Callable[[int], None] | None = None,
    block: int = BLOCK,
    pool_from: int = POOL_FROM,
) -> Collected:
    """Read every input with up to ``jobs`` processes: the same result as one process."""
    if any(p is STDIN for p in paths):  # a stream has no byte ranges: all read here, in order
        collected = Collected()
        for path in paths:
            read_file(path, collected, trusted=trusted, advance=advance)
        return collected
    plans = plan(paths, jobs, trusted=trusted, block=block)
    parts = [p for ps in plans for p in ps]
    size = sum(Path(p).stat().st_size for p in {part.path for part in parts})
    if jobs == 1 or len(parts) == 1 or size < pool_from:  # no process to start
        reads = [read_part(p, trusted=trusted, advance=advance) for p in parts]
    else:
        reads = _pooled(parts, jobs, trusted, advance)
    collected = Collected()
    i = 0
    for ps in plans:
        collected.absorb(joined(_checked(ps, reads[i : i + len(ps)], trusted)))
        i += len(ps)
    return collected


def _checked(
    parts: list[Part], reads: list[PartRead], trusted: RealClient | None
) -> list[PartRead]:
    """``reads``, a part re-read here when it started from other quotes per line than the
    part before it ended with (see the module docstring)."""
    out = reads[:1]
    for part, read in zip(parts[1:], reads[1:], strict=True):
        expected = out[-1].quotes
        if part.quotes != expected:
            fixed = Part(part.path, part.kind, part.start, part.end, expected, part.block)
            read = read_part(fixed, trusted=trusted)
        out.append(read)
    return out


# --- the pool ----------------------------------------------------------------------------

_worker: dict[str, object] = {}  # in a worker: what _start was given


def _start(trusted: RealClient | None, progress: Synchronized[int]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    _worker["trusted"] = trusted
    _worker["progress"] = progress


def _advance(n: int) -> None:
    progress = _worker["progress"]
    assert isinstance(progress, Synchronized)
    with progress.get_lock():
        progress.value += n


def _read(part: Part) -> PartRead:
    trusted = _worker["trusted"]
    assert trusted is None or isinstance(trusted, RealClient)
    return read_part(part, trusted=trusted, advance=_advance)


def _size(part: Part) -> int:
    if part.end is not None:
        return part.end - part.start
    return Path(part.path).stat().st_size - part.start


class _Queue:
    """Parts by index, biggest first, taken by the parent and the pool alike."""

    def __init__(self, parts: list[Part]) -> None:
        self._todo = sorted(range(len(parts)), key=lambda i: -_size(parts[i]))
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            return self._todo.pop(0) if self._todo else None

    def drop(self) -> None:
        with self._lock:
            self._todo.clear()


def _pooled(
    parts: list[Part],
    jobs: int,
    trusted: RealClient | None,
    advance: Callable[[int], None] | None,
) -> list[PartRead]:
    """Read ``parts`` here and in ``jobs - 1`` worker processes; starting the workers takes
    a moment, which this process spends reading."""
    ctx = multiprocessing.get_context("forkserver")
    # The server imports the reading code once; every worker is forked from it ready.
    ctx.set_forkserver_preload([__name__])
    progress: Synchronized[int] = ctx.Value("q", 0)
    queue = _Queue(parts)
    reads: list[PartRead | None] = [None] * len(parts)
    pool = ProcessPoolExecutor(
        jobs - 1, mp_context=ctx, initializer=_start, initargs=(trusted, progress)
    )
    failed: list[BaseException] = []

    def feed_pool() -> None:
        busy: dict[Future[PartRead], int] = {}
        try:
            while True:
                while len(busy) < jobs - 1 and (i := queue.take()) is not None:
                    busy[pool.submit(_read, parts[i])] = i
                if not busy:
                    return
                done, _ = wait(busy, return_when=FIRST_COMPLETED)
                for future in done:
                    reads[busy.pop(future)] = future.result()
        except BaseException as exc:  # an InputError from a worker: stop the parent too
            failed.append(exc)
            queue.drop()

    shown = 0

    def show(n: int = 0) -> None:
        nonlocal shown
        if advance is not None:
            now = progress.value
            advance(n + now - shown)
            shown = now

    feeder = threading.Thread(target=feed_pool, name="dpi-report-pool", daemon=True)
    feeder.start()
    try:
        while (i := queue.take()) is not None:
            reads[i] = read_part(parts[i], trusted=trusted, advance=show)
        while feeder.is_alive():
            feeder.join(_POLL)
            show()
        show()  # the workers' last bytes, when they finished before this process did
        if failed:
            raise failed[0]
    except BaseException:
        queue.drop()
        workers = list((pool._processes or {}).values())  # no public way to stop them now
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.terminate()
        raise
    pool.shutdown()
    return [r for r in reads if r is not None]
