"""``dpi-report --jobs``: parts read apart, in other processes, give what one read gives."""

from __future__ import annotations

import gzip
import itertools
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from middleware.edge.realip import RealClient
from middleware.report import parallel
from middleware.report.build import build_report
from middleware.report.inputs import Collected, InputError, Part, PartRead, joined, read_part
from middleware.report.parallel import _checked, _quotes, plan, read_all, shares
from middleware.report.render_json import render_json
from middleware.report.render_text import render_text
from middleware.report.synthetic import generate_log, make_networks, write_iptoasn

DPI_REPORT = [sys.executable, "-m", "middleware", "dpi-report"]
BLOCK = 256  # bytes: small files cross many block and part boundaries


def line(i: int, client: str = "203.0.113.7", target: str = "/a", tail: str = "") -> bytes:
    """A ``combined`` line at second ``i`` of the day (times never go back, as nginx's)."""
    hh, mm, ss = i // 3600 % 24, i // 60 % 60, i % 60
    return (
        f'{client} - - [27/Nov/2026:{hh:02d}:{mm:02d}:{ss:02d} +0000] "GET {target} HTTP/1.1"'
        f' 200 {i} "-" "agent {tail}"\n'
    ).encode()


def log(n: int, *, every: int = 7) -> bytes:
    """``n`` lines: clients of three networks, percent-encoded UTF-8, the seed's damage."""
    out = []
    for i in range(n):
        target = ("/search?q=caf%C3%A9", "/x", "/media/IMG_20\\x80\\x01.jpg", "/q?%80%04")[
            (i % every == 3) + 2 * (i % (5 * every) == 4)
        ]
        out.append(line(i, f"198.51.100.{i % 11}", target, "x" * (i % 40)))
    return b"".join(out)


MALFORMED_AT_EDGES = b"".join(
    line(i) if i % 4 else b'garbage without "quotes\n' + line(i)[:50] + b"\n" for i in range(60)
)

# name → {file name: content}; every case is read with parts that end inside lines.
CASES: dict[str, dict[str, bytes]] = {
    "several files": {"a.log": log(120), "b.log": log(40, every=5), "c.log": log(300)},
    "gzip and plain": {"a.log.gz": gzip.compress(log(200), mtime=0), "b.log": log(200)},
    "a line spans a part boundary": {"a.log": log(10) + line(11, tail="y" * 900) + log(30)},
    "no final newline": {"a.log": log(90)[:-1]},
    "one huge line": {"a.log": line(1, tail="z" * 5000)},
    "an empty file among others": {"empty.log": b"", "a.log": log(50)},
    "malformed lines at block edges": {"a.log": MALFORMED_AT_EDGES},
    "events": {
        "e.jsonl": b"".join(
            json.dumps(
                {"time": 1795737600 + i, "client": "203.0.113.7", "kind": "x", "source": "edge"}
            ).encode()
            + b"\n"
            for i in range(80)
        )
    },
}


def write(tmp_path: Path, files: dict[str, bytes]) -> list[Path]:
    paths = []
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        paths.append(tmp_path / name)
    return paths


def outputs(collected: Collected) -> tuple[str, str]:
    """JSON and text of the report of ``collected`` (a fixed generation time)."""
    report = build_report(collected, None)
    report.generated_at = 0.0
    console = Console(width=132, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    render_text(report, console, top=20)
    return render_json(report), console.export_text()


@pytest.mark.parametrize("case", sorted(CASES))
def test_two_processes_report_what_one_does(tmp_path: Path, case: str) -> None:
    paths = write(tmp_path, CASES[case])
    one = read_all(paths, jobs=1, block=BLOCK)
    parts = [p for ps in plan(paths, 2, block=BLOCK) for p in ps]
    if any(p.stat().st_size >= 2 * BLOCK and not p.name.endswith(".gz") for p in paths):
        assert len(parts) > len(paths)  # the case really is split
    two = read_all(paths, jobs=2, block=BLOCK, pool_from=0)
    assert two == one
    assert [i.path for i in two.inputs] == [str(p) for p in paths]  # one per file, in order
    assert outputs(two) == outputs(one)


def test_a_progress_callback_sees_every_byte_once(tmp_path: Path) -> None:
    paths = write(tmp_path, CASES["several files"])
    seen: list[int] = []
    read_all(paths, jobs=2, block=BLOCK, pool_from=0, advance=seen.append)
    assert sum(seen) == sum(p.stat().st_size for p in paths)


def test_an_unreadable_input_in_a_worker_is_the_same_error(tmp_path: Path) -> None:
    paths = write(tmp_path, {"a.log": log(200), "b.log.gz": b"\x1f\x8b" + b"\0" * 600})
    with pytest.raises(ValueError, match=r"b\.log\.gz: cannot read"):
        read_all(paths, jobs=2, block=BLOCK, pool_from=0)


def split_read(path: Path, cuts: list[int], block: int) -> Collected:
    """``path`` read in parts cut at ``cuts``, as the pool would (then checked in order)."""
    whole = plan([path], 1, block=block)[0][0]
    starts = sorted({0, *cuts})
    guess = _quotes(path, None)
    parts = [
        Part(whole.path, whole.kind, lo, hi, guess if lo else None, block)
        for lo, hi in itertools.pairwise([*starts, None])
        if lo is not None
    ]
    reads: list[PartRead] = [read_part(p) for p in parts]
    return joined(_checked(parts, reads, None))


LINES = st.one_of(
    st.builds(
        lambda c, t: (c, t),
        st.sampled_from(["198.51.100.1", "198.51.100.2", "2001:db8::1"]),
        st.sampled_from(["/", "/search?q=caf%C3%A9", "/x%80%01y", "/a\\x80\\x04b", "/%FF"]),
    ),
    st.sampled_from([b"", b"junk", b'half "a line', b"198.51.100.1 - - [27/Nov/2026:00"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(LINES, max_size=80),
    st.lists(st.integers(0, 20_000), max_size=6),
    st.sampled_from([64, 200, 1024, 1 << 16]),
    st.booleans(),
)
def test_any_split_gives_the_same_collected(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[tuple[str, str] | bytes],
    cuts: list[int],
    block: int,
    final_newline: bool,
) -> None:
    content = b"".join(
        x + b"\n" if isinstance(x, bytes) else line(i, x[0], x[1]) for i, x in enumerate(lines)
    )
    if not final_newline:
        content = content[:-1]
    path = tmp_path_factory.mktemp("split") / "a.log"
    path.write_bytes(content)
    whole = read_part(plan([path], 1, block=block)[0][0]).collected
    size = len(content)
    assert split_read(path, [c % (size + 1) for c in cuts], block) == whole


def test_a_part_is_reread_when_its_quotes_guess_was_wrong(tmp_path: Path) -> None:
    """The guess comes from the first lines; here they have another format's quotes."""
    main = b' "10.0.0.1"\n'
    first = b"".join(line(i)[:-1] + main for i in range(40))  # 8 quotes: Debian's main
    path = tmp_path / "a.log"
    path.write_bytes(first + b"".join(line(i) for i in range(40, 400)))
    whole = read_part(plan([path], 1, block=BLOCK)[0][0]).collected
    assert split_read(path, [3000, 9000], BLOCK) == whole


# --- the command ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """A log of three 4 MB blocks (split by --jobs 2), its gzip copy and a small log."""
    d = tmp_path_factory.mktemp("big")
    nets = make_networks(40, seed=2, incident_rank=5)
    generate_log(d / "big.log", nets, lines=60_000, corrupted=9, seed=4, clients=2000)
    generate_log(d / "small.log", nets, lines=3000, corrupted=2, seed=5, clients=300)
    (d / "small.log.gz").write_bytes(gzip.compress((d / "small.log").read_bytes()))
    return write_iptoasn(nets, d / "t.tsv"), [d / "big.log", d / "small.log.gz", d / "small.log"]


def run(*args: str | Path, code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*DPI_REPORT, *map(str, args)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == code, proc.stderr
    return proc


def same_time(text: str) -> str:
    return re.sub(r'"generated_at": "[^"]*"', '"generated_at": ""', text)


@pytest.mark.parametrize("output", [["--json"], []], ids=["json", "text"])
def test_jobs_2_and_jobs_1_print_the_same_bytes(
    big: tuple[Path, list[Path]], output: list[str]
) -> None:
    table, logs = big
    assert logs[0].stat().st_size > 2 * (4 << 20)  # split into parts, read by a pool
    one, two = (run(*output, "--jobs", j, "--asn-table", table, *logs) for j in ("1", "2"))
    assert same_time(two.stdout) == same_time(one.stdout)
    assert "AS" in one.stdout


@pytest.mark.parametrize("value", ["0", "-1", "x", "nan", "1.5", ""])
def test_bad_jobs_is_one_clear_line(tmp_path: Path, value: str) -> None:
    (tmp_path / "a.log").write_bytes(log(5))
    proc = run("--jobs", value, tmp_path / "a.log", code=2)
    errors = [x for x in proc.stderr.splitlines() if x.startswith("dpi-report: error:")]
    assert len(errors) == 1 and "--jobs" in errors[0] and "1 to 256" in errors[0], proc.stderr
    assert proc.stderr.rstrip().endswith(errors[0])  # the last line, after argparse's usage
    assert "Traceback" not in proc.stderr


def test_help_names_jobs(capsys: pytest.CaptureFixture[str]) -> None:
    from middleware.cli.dpi_report import build_parser

    text = build_parser().format_help()
    assert "--jobs N" in text and "the report is the same for every N" in " ".join(text.split())


def test_the_progress_bar_counts_every_part_on_a_terminal(
    big: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    table, logs = big
    twice = tmp_path / "twice.log"
    twice.write_bytes(logs[0].read_bytes() * 2)  # > 16 MB: a bar is shown
    env = {**os.environ, "TTY_INTERACTIVE": "1", "TTY_COMPATIBLE": "1"}  # as on a terminal
    proc = subprocess.run(
        [*DPI_REPORT, "--jobs", "2", "--json", "--asn-table", str(table), str(twice)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "reading twice.log" in proc.stderr
    mb = f"{twice.stat().st_size / 1e6:.1f}"
    assert f"{mb}/{mb} MB" in proc.stderr  # the workers' bytes reached the bar too


@pytest.mark.parametrize("block", [16, 64, 100])
def test_a_gzip_stream_is_read_in_the_blocks_a_plain_file_is(tmp_path: Path, block: int) -> None:
    """Blank lines at grid points included: each is a block of its own either way."""
    content = b"".join(line(i) + (b"\n" if i % 3 == 0 else b"") for i in range(30))
    (tmp_path / "a.log").write_bytes(content)
    (tmp_path / "a.log.gz").write_bytes(gzip.compress(content))
    plain, packed = (
        read_part(plan([tmp_path / n], 1, block=block)[0][0]).collected
        for n in ("a.log", "a.log.gz")
    )
    assert packed.inputs[0].malformed == plain.inputs[0].malformed > 0
    assert (packed.clients, packed.inputs[0].lines) == (plain.clients, plain.inputs[0].lines)


def test_trusted_proxies_reach_the_workers(tmp_path: Path) -> None:
    """Lines from a trusted proxy are attributed to the client it forwarded, in every part."""
    content = b"".join(line(i, "10.0.0.1")[:-1] + b' "203.0.113.%d"\n' % (i % 5) for i in range(99))
    paths = write(tmp_path, {"a.log": content, "b.log": log(50)})
    trusted = RealClient(["10.0.0.0/8"])
    one = read_all(paths, jobs=1, block=BLOCK, trusted=trusted)
    two = read_all(paths, jobs=2, block=BLOCK, pool_from=0, trusted=trusted)
    assert two == one
    assert b"203.0.113.4" in two.clients and b"10.0.0.1" not in two.clients


# --- the forked workers ---------------------------------------------------------------------


def _in_worker(marker: Path, then: Callable[[], object]) -> Callable[..., PartRead]:
    """``read_part`` that, in a forked worker (a copy of this process, so it runs what the
    test patched), notes that it started and runs ``then``; this process waits for that
    before its first read, so a worker surely takes a part."""
    parent = os.getpid()

    def read(part: Part, **kwargs: Any) -> PartRead:
        if os.getpid() != parent:
            with marker.open("a") as f:
                f.write(f"{os.getpid()}\n")
            then()
        deadline = time.monotonic() + 60
        while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
            time.sleep(0.01)
        return read_part(part, **kwargs)

    return read


def test_a_killed_worker_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = write(tmp_path, CASES["several files"])
    kill = _in_worker(tmp_path / "started", lambda: os.kill(os.getpid(), signal.SIGKILL))
    monkeypatch.setattr(parallel, "read_part", kill)
    with pytest.raises(InputError, match=r"ended without its result \(killed by signal 9\)"):
        read_all(paths, jobs=2, block=BLOCK, pool_from=0)


class Unpicklable(Exception):
    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("not this one")


def test_an_error_that_does_not_pickle_still_reaches_the_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail() -> None:
        raise Unpicklable("odd")

    paths = write(tmp_path, CASES["several files"])
    monkeypatch.setattr(parallel, "read_part", _in_worker(tmp_path / "started", fail))
    with pytest.raises(RuntimeError, match="Unpicklable"):
        read_all(paths, jobs=2, block=BLOCK, pool_from=0)


def test_ctrl_c_in_the_parent_stops_and_reaps_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = tmp_path / "pids"

    read = _in_worker(pids, lambda: time.sleep(300))  # a worker reading for a long time

    def interrupted(part: Part, **kwargs: Any) -> PartRead:
        read(part, **kwargs)  # (returns here once a worker has started)
        raise KeyboardInterrupt

    paths = write(tmp_path, CASES["several files"])
    monkeypatch.setattr(parallel, "read_part", interrupted)
    with pytest.raises(KeyboardInterrupt):
        read_all(paths, jobs=3, block=BLOCK, pool_from=0)
    workers = [int(x) for x in pids.read_text().split()]
    assert workers and all(not Path(f"/proc/{pid}").exists() for pid in workers)  # reaped


def test_a_worker_leaves_the_parents_buffers_alone(tmp_path: Path) -> None:
    """A worker exits with os._exit: what this process has buffered is written once."""
    paths = write(tmp_path, CASES["several files"])
    out = tmp_path / "out"
    with out.open("wb") as f:
        f.write(b"once")  # buffered, not yet written, when the workers are forked
        read_all(paths, jobs=3, block=BLOCK, pool_from=0)
    assert out.read_bytes() == b"once"


def test_without_more_processes_this_one_reads_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    paths = write(tmp_path, CASES["several files"])
    one = read_all(paths, jobs=1, block=BLOCK)
    monkeypatch.setattr(os, "fork", no_fork)
    assert read_all(paths, jobs=4, block=BLOCK, pool_from=0) == one


@pytest.mark.parametrize("jobs", [2, 3, 8])
def test_every_part_is_read_once_whoever_takes_it(tmp_path: Path, jobs: int) -> None:
    """Many small parts, more processes than cores: each part lands in the result once."""
    paths = write(tmp_path, {f"{i}.log": log(40 + i) for i in range(12)})
    assert read_all(paths, jobs=jobs, block=64, pool_from=0) == read_all(paths, jobs=1, block=64)


@given(st.integers(1, 100_000), st.integers(1, 256))
def test_parts_cover_the_file_and_shrink_to_one_block(blocks: int, jobs: int) -> None:
    sizes = shares(blocks, jobs)
    assert sum(sizes) == blocks and min(sizes) >= 1
    assert sizes == sorted(sizes, reverse=True)  # the queue takes them in file order
    assert sizes[-1] == 1  # the last part taken is one block: the processes end together
    assert len(sizes) <= 2 * jobs * (1 + math.log(blocks)) + 1  # few parts to merge
