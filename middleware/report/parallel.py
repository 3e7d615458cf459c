"""``dpi-report --jobs N``: the inputs read by N processes, the report the same as with one.

**Parts.** Each input is one :class:`~middleware.report.inputs.Part`, except a large plain
log, which is split by byte range into parts that shrink along the file; parts start and end on
the block grid (:mod:`middleware.report.inputs`), so every block is the one a whole read
scans. Compressed files and captures are read whole. A worker reads parts (a path and two
offsets) and sends back a :class:`~middleware.report.inputs.PartRead` per part: the
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

**Processes.** :func:`start` forks ``N - 1`` workers and returns at once; this process
and the workers then take parts from one shared queue, biggest first, until none is left
(:meth:`Reading.finish`). A forked worker starts in about a millisecond, with the reading
code already imported: a fresh interpreter (``spawn``, ``forkserver``) costs a third of a
second of imports per worker, as much as reading 400,000 lines. Between :func:`start` and
:meth:`Reading.finish` the caller does its own work (``dpi-report`` loads the AS table)
while the workers read. ``start`` is called before any thread of ours exists (the
progress bar's comes later); a worker only reads files, writes its result to a pipe and
leaves with ``os._exit``, so it runs none of the parent's exit handlers and shares no
lock with the parent's other threads (CPython re-creates its own after a fork). Workers
ignore Ctrl-C; the parent stops them. Progress is a byte counter per worker in shared
memory, which the parent adds up. Below :data:`POOL_FROM` bytes in all, forking costs
more than it saves, and everything is read here.
"""

from __future__ import annotations

import dataclasses
import fcntl
import gc
import itertools
import math
import mmap
import os
import pickle
import select
import signal
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Final, NoReturn

from middleware.edge.fastscan import CombinedScan
from middleware.edge.realip import RealClient
from middleware.report.inputs import (
    BLOCK,
    STDIN,
    Collected,
    InputError,
    Part,
    PartRead,
    compressed,
    head_lines,
    joined,
    part_of,
    read_file,
    read_part,
    total_size,
)

# Bytes of input in all below which no process is forked: one block (a lone file is not
# split below two). Measured in instructions on the critical path (the busier process),
# forked workers already win at 4.8 MB in one file: 668 M against 863 M for one process.
POOL_FROM: Final = BLOCK
_POLL: Final = 0.1  # seconds between progress updates while the workers finish
_SLOT: Final = struct.Struct("q")  # one shared 64-bit counter


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
    into parts of whole blocks when ``jobs > 1``, each a ``2 * jobs``-th of what is left
    (:func:`shares`)."""
    out: list[list[Part]] = []
    for path in paths:
        whole = dataclasses.replace(part_of(path), block=block)
        size = path.stat().st_size
        blocks = math.ceil(size / block)
        if jobs == 1 or blocks < 2 or whole.kind in ("pcap", "pcapng") or compressed(path):
            out.append([whole])
            continue
        quotes = _quotes(path, trusted) if whole.kind == "nginx-combined" else None
        starts = [0, *itertools.accumulate(n * block for n in shares(blocks, jobs))]
        out.append(
            [
                Part(
                    whole.path,
                    whole.kind,
                    start=start,
                    end=end if end < size else None,
                    quotes=quotes if start else None,
                    block=block,
                )
                for start, end in itertools.pairwise(starts)
            ]
        )
    return out


def shares(blocks: int, jobs: int) -> list[int]:
    """A file's parts, in blocks: each a ``2 * jobs``-th of the blocks left, so they
    shrink along the file (taken biggest first, the last ones taken are one block: the
    processes finish within a block's reading of each other, where equal parts leave
    one process reading the last big part alone)."""
    out: list[int] = []
    left = blocks
    while left:
        out.append(min(left, max(1, math.ceil(left / (2 * jobs)))))
        left -= out[-1]
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
    with start(paths, jobs=jobs, trusted=trusted, block=block, pool_from=pool_from) as reading:
        return reading.finish(advance)


def start(
    paths: Sequence[Path],
    *,
    jobs: int,
    trusted: RealClient | None = None,
    block: int = BLOCK,
    pool_from: int = POOL_FROM,
) -> Reading:
    """Plan the parts of ``paths`` and fork the workers that read them (when ``jobs > 1``
    and the inputs are big enough); :meth:`Reading.finish` reads the rest here and returns
    what :func:`read_all` does. An input that cannot be opened raises here."""
    if any(p is STDIN for p in paths):  # a stream has no byte ranges: all read here, in order
        return Reading(list(paths), None, trusted, 1)
    if total_size(list(paths)) < pool_from or not hasattr(os, "fork"):
        jobs = 1
    plans = plan(paths, jobs, trusted=trusted, block=block)
    return Reading(list(paths), plans, trusted, min(jobs, sum(map(len, plans))))


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


def _size(part: Part) -> int:
    if part.end is not None:
        return part.end - part.start
    return Path(part.path).stat().st_size - part.start


class Reading:
    """The parts of the inputs being read by this process and its forked workers."""

    def __init__(
        self,
        paths: list[Path],
        plans: list[list[Part]] | None,
        trusted: RealClient | None,
        jobs: int,
    ) -> None:
        self._paths = paths
        self._plans = plans
        self._trusted = trusted
        self._parts = [p for ps in plans or [] for p in ps]
        # The queue: part indices biggest first, and (shared) how many have been taken.
        self._order = sorted(range(len(self._parts)), key=lambda i: -_size(self._parts[i]))
        self._fd = _anonymous_file()  # a lock for the queue, and memory shared with workers:
        os.ftruncate(self._fd, _SLOT.size * (jobs + 1))  # [taken, bytes read by each worker]
        self._shared = mmap.mmap(self._fd, _SLOT.size * (jobs + 1))
        self._workers: dict[int, int] = {}  # pid → the read end of its result pipe
        for slot in range(1, jobs):
            if not self._fork(slot):
                break  # no more processes (a limit): this one reads what they would have

    def __enter__(self) -> Reading:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _fork(self, slot: int) -> bool:
        read_end, write_end = os.pipe()
        # Frozen, the parent's objects are never visited by a worker's garbage collector,
        # so their memory pages are never copied into it.
        gc.freeze()
        try:
            pid = os.fork()
        except OSError:
            gc.unfreeze()
            os.close(read_end)
            os.close(write_end)
            return False
        if pid == 0:
            os.close(read_end)
            self._work(slot, write_end)
        gc.unfreeze()
        os.close(write_end)
        self._workers[pid] = read_end
        return True

    # --- the shared queue

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The queue to this process alone. A POSIX record lock belongs to a process, not to
        a descriptor, so the forked workers and this one exclude each other on one file."""
        fcntl.lockf(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)

    def _take(self) -> int | None:
        with self._locked():
            taken: int = _SLOT.unpack_from(self._shared, 0)[0]
            _SLOT.pack_into(self._shared, 0, taken + 1)
        return self._order[taken] if taken < len(self._order) else None

    def _drop(self) -> None:
        """Nobody takes another part (an error: the run stops)."""
        with self._locked():
            _SLOT.pack_into(self._shared, 0, len(self._order))

    def _read_bytes(self) -> int:
        """Bytes the workers have read so far."""
        return sum(x for (x,) in _SLOT.iter_unpack(self._shared[_SLOT.size :]))

    # --- a worker

    def _work(self, slot: int, out: int) -> NoReturn:
        """In a forked worker: read parts until none is left, send them, exit."""
        code = 0
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
            for fd in self._workers.values():  # the pipes of workers forked before
                os.close(fd)
            done = 0

            def advance(n: int) -> None:
                nonlocal done
                done += n
                _SLOT.pack_into(self._shared, slot * _SLOT.size, done)

            reads: dict[int, PartRead] = {}
            try:
                while (i := self._take()) is not None:
                    reads[i] = read_part(self._parts[i], trusted=self._trusted, advance=advance)
                result: object = reads
            except BaseException as exc:  # an InputError: sent to the parent, who raises it
                self._drop()
                result = exc
            try:
                payload = pickle.dumps(result, pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # an exception that does not pickle
                payload = pickle.dumps(RuntimeError(f"{type(result).__name__}: {exc}"))
            with os.fdopen(out, "wb") as pipe:
                pipe.write(payload)
        except BaseException:
            code = 1
        finally:
            os._exit(code)  # never the parent's exit handlers, buffers or tests

    # --- the parent

    def finish(self, advance: Callable[[int], None] | None = None) -> Collected:
        """Read the parts no worker takes, collect the workers' and return them all, as one
        read of the inputs in order gives them."""
        if self._plans is None:  # standard input among the inputs
            collected = Collected()
            for path in self._paths:
                read_file(path, collected, trusted=self._trusted, advance=advance)
            return collected
        reads: dict[int, PartRead] = {}
        mine = shown = 0

        def show(n: int = 0) -> None:
            nonlocal mine, shown
            mine += n
            if advance is not None:
                now = mine + self._read_bytes()
                advance(now - shown)
                shown = now

        try:
            while (i := self._take()) is not None:
                reads[i] = read_part(self._parts[i], trusted=self._trusted, advance=show)
            reads.update(self._collect(show))
        except BaseException:
            self._drop()
            raise
        finally:
            self.stop()
        show()  # the workers' last bytes, when they finished before this process did
        collected = Collected()
        i = 0
        for ps in self._plans:
            got = [reads[j] for j in range(i, i + len(ps))]
            collected.absorb(joined(_checked(ps, got, self._trusted)))
            i += len(ps)
        return collected

    def _collect(self, show: Callable[[], None]) -> dict[int, PartRead]:
        """The workers' results, read from their pipes as they come (a result is bigger
        than a pipe holds: the worker waits until it is read)."""
        data: dict[int, list[bytes]] = {fd: [] for fd in self._workers.values()}
        open_ = set(data)
        while open_:
            ready, _, _ = select.select(list(open_), [], [], _POLL)
            for fd in ready:
                chunk = os.read(fd, 1 << 20)
                if chunk:
                    data[fd].append(chunk)
                else:
                    open_.discard(fd)
            show()
        out: dict[int, PartRead] = {}
        failed: list[BaseException] = []
        while self._workers:
            pid, fd = self._workers.popitem()
            os.close(fd)
            payload = b"".join(data[fd])
            status = os.waitpid(pid, 0)[1]
            if not payload:  # killed (out of memory?) before it could say why
                failed.append(
                    InputError(
                        f"a reading process ended without its result ({_status(status)}); "
                        "try --jobs 1"
                    )
                )
                continue
            result = pickle.loads(payload)  # noqa: S301 (our own child wrote it)
            if isinstance(result, BaseException):
                failed.append(result)
            else:
                out.update(result)
        if failed:
            raise failed[0]
        return out

    def stop(self) -> None:
        """Stop and reap the workers that have not been collected (an error, Ctrl-C)."""
        if self._fd >= 0:
            os.close(self._fd)  # (the mapping stays valid without it)
            self._fd = -1
        workers, self._workers = self._workers, {}
        for pid, fd in workers.items():
            os.close(fd)
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in workers:
            with suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _anonymous_file() -> int:
    """A descriptor of a file that has no name (nothing to clean up)."""
    if hasattr(os, "memfd_create"):  # Linux
        return os.memfd_create("dpi-report-queue")
    import tempfile  # elsewhere: a file deleted as soon as it is made

    return os.dup(tempfile.TemporaryFile().fileno())


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
