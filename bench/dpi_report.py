"""``dpi-report`` measured as a user runs it: the whole command, wall time.

Two figures, each a ratio against its peer measured in the same run, interleaved round by
round (A, B, A, B...), the median of the per-round ratios (the machine is shared: a round
that a neighbour slows is one sample, not the result):

1. **lines/s on a 2,000,000-line log** (``dpi-report demo-log``'s generator: browsing
   sessions from 400 networks, the seed's 76 corrupted lines), ``--jobs`` = the CPUs
   against ``--jobs 1``; the absolute lines/s is printed beside it (target >= 1 M/s on
   2 cores).
2. **dpi-report lines/s ÷ asncounter addresses/s**, whole processes: the same 400,000
   clients, as nginx log lines for us and one address per line for asncounter, and the
   same table (one pyasn ``.dat`` file, which both read; asncounter from its cache folder,
   counting by AS only, its fastest set-up). Target >= 3.

Each run's CPU seconds are those of every process it started (this process is their
"subreaper": workers and helpers that outlive their parent are still counted), and the
runs use bytecode caches, as an installed command does (``PYTHONDONTWRITEBYTECODE`` is
dropped for them and the caches go to a temporary folder, warmed by one untimed run). The
start-up cost (a 1-line log, the whole command) is printed beside the figures.

``--quick`` shrinks both (a smoke run: the figures are then not the targets').
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from middleware.report.parallel import cpus
from middleware.report.synthetic import generate_log, make_networks, write_pyasn

BIN = Path(sys.executable).parent
_PR_SET_CHILD_SUBREAPER = 36
ENV = dict(os.environ)  # the commands' environment (bytecode caches: see main)


def _subreaper() -> None:
    """Orphans of the commands run here (a pool's server, a worker whose parent left
    first) become this process's children, so their CPU time is counted too."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _timed(argv: list[str], cpu: list[float] | None = None) -> float:
    """Wall seconds of one whole command (its output thrown away; failure is fatal);
    the CPU seconds of it and of every process it started appended to ``cpu``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    took = time.perf_counter() - started
    while True:  # orphans that are still running: waited for, so that they are counted
        try:
            os.wait()
        except ChildProcessError:
            break
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return took


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def interleaved(a: Callable[[], float], b: Callable[[], float], rounds: int) -> list[float]:
    """Per-round ``b() / a()`` ratios of seconds (so: a's speed over b's), A then B."""
    ratios = []
    for _ in range(rounds):
        ta = a()
        tb = b()
        ratios.append(tb / ta)
    return ratios


def dpi_report(table: Path, log: Path, jobs: int) -> list[str]:
    return [
        str(BIN / "dpi-report"),
        *("--asn-table", str(table), "--json", "--no-progress"),
        *("--jobs", str(jobs), str(log)),
    ]


def asncounter(cache: Path, addresses: Path) -> list[str]:
    return [
        str(BIN / "asncounter"),
        *("--cache-directory", str(cache), "--input", str(addresses)),
        *("--output", str(cache / "counts.tsv"), "--no-resolve-asn", "--no-prefixes"),
    ]


def lines_per_second(d: Path, lines: int, rounds: int) -> None:
    nets = make_networks(400, seed=1, incident_rank=40)
    table = write_pyasn(nets, d / "ipasn.dat")
    log = d / "big.log"
    generate_log(log, nets, lines=lines, corrupted=76, seed=1, clients=60_000)
    jobs = cpus()
    many: list[float] = []
    one: list[float] = []
    many_cpu: list[float] = []
    one_cpu: list[float] = []

    def run_many() -> float:
        many.append(_timed(dpi_report(table, log, jobs), many_cpu))
        return many[-1]

    def run_one() -> float:
        one.append(_timed(dpi_report(table, log, 1), one_cpu))
        return one[-1]

    _timed(dpi_report(table, log, jobs))  # warms the bytecode caches
    ratios = interleaved(run_many, run_one, rounds)
    best = lines / statistics.median(many)
    print(
        f"dpi-report --jobs {jobs} ÷ --jobs 1, lines/s on a {lines:,}-line log "
        f"({log.stat().st_size / 1e6:.0f} MB, whole command): {statistics.median(ratios):.2f}  "
        f"({best / 1e6:.2f} M lines/s vs {lines / statistics.median(one) / 1e6:.2f} M; "
        f"target >= 1 M lines/s on 2 cores; median of {rounds} interleaved rounds, "
        f"ratios {min(ratios):.2f}-{max(ratios):.2f}; {_load()})"
    )
    print(
        f"  CPU seconds of the whole command, every process: --jobs {jobs} "
        f"{statistics.median(many_cpu):.2f}, --jobs 1 {statistics.median(one_cpu):.2f} "
        f"({lines / statistics.median(one_cpu) / 1e6:.2f} M lines per CPU-second); on a busy "
        "machine the wall figures measure the neighbours as much as dpi-report"
    )
    print(
        f"SUMMARY dpi-report on a {lines:,}-line log, --jobs {jobs}, whole command: "
        f"{best / 1e6:.2f} M lines/s (target >= 1 M on 2 cores; --jobs {jobs} ÷ --jobs 1 "
        f"{statistics.median(ratios):.2f}; {_load()})"
    )


def start_up(d: Path, rounds: int) -> None:
    """The fixed cost: the whole command over a 1-line log, against a bare interpreter."""
    nets = make_networks(400, seed=3, incident_rank=40)
    table = write_pyasn(nets, d / "ipasn.dat")
    log = d / "one.log"
    generate_log(log, nets, lines=1, corrupted=0, seed=3, clients=1)
    bare = [sys.executable, "-c", "pass"]
    _timed(dpi_report(table, log, cpus()))
    ours: list[float] = []
    cpu: list[float] = []
    python: list[float] = []
    for _ in range(rounds):
        ours.append(_timed(dpi_report(table, log, cpus()), cpu))
        python.append(_timed(bare))
    print(
        f"dpi-report start-up (a 1-line log, whole command): {statistics.median(ours):.3f} s "
        f"wall, {statistics.median(cpu):.3f} CPU-s; a bare interpreter: "
        f"{statistics.median(python):.3f} s (medians of {rounds}; {_load()})"
    )


def versus_asncounter(d: Path, lines: int, rounds: int) -> None:
    nets = make_networks(400, seed=2, incident_rank=40)
    table = write_pyasn(nets, d / "ipasn.dat")
    log = d / "clients.log"
    generate_log(log, nets, lines=lines, corrupted=76, seed=2, clients=60_000)
    # The same clients, in the same order, one per line: what asncounter reads.
    with log.open("rb") as src, (d / "addresses").open("wb") as out:
        for line in src:
            out.write(line[: line.index(b" ")] + b"\n")
    cache = d / "cache"
    cache.mkdir()
    shutil.copy(table, cache / "ipasn_20261127.0000.dat")  # it loads the newest ipasn_*
    ours_argv = dpi_report(table, log, cpus())
    theirs_argv = asncounter(cache, d / "addresses")
    ours_cpu: list[float] = []
    theirs_cpu: list[float] = []
    _timed(ours_argv)  # warms the bytecode caches
    _timed(theirs_argv)
    ratios = interleaved(
        lambda: _timed(ours_argv, ours_cpu), lambda: _timed(theirs_argv, theirs_cpu), rounds
    )
    cpu_ratio = statistics.median(theirs_cpu) / statistics.median(ours_cpu)
    figure = statistics.median(ratios)
    print(
        f"dpi-report lines/s ÷ asncounter addresses/s (whole processes, {lines:,} clients, "
        f"one {sum(len(n.prefixes) for n in nets):,}-prefix table): "
        f"{figure:.2f}  (target >= 3; median of {rounds} interleaved "
        f"rounds, ratios {min(ratios):.2f}-{max(ratios):.2f}; --jobs {cpus()}; {_load()})"
    )
    print(
        f"  CPU seconds, every process: dpi-report {statistics.median(ours_cpu):.2f}, "
        f"asncounter {statistics.median(theirs_cpu):.2f} (per CPU-second: {cpu_ratio:.2f})"
    )
    print(
        f"SUMMARY dpi-report lines/s ÷ asncounter addresses/s, whole processes, {lines:,} "
        f"addresses: {figure:.2f} (target >= 3; per CPU-second {cpu_ratio:.2f}; {_load()})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller logs, fewer rounds")
    args = parser.parse_args()
    rounds = 3 if args.quick else 5
    _subreaper()
    with tempfile.TemporaryDirectory(prefix=f"edgeward-dpi-report-{os.getpid()}-") as tmp:
        d = Path(tmp)
        # As an installed command runs: with bytecode caches (kept out of the checkout).
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        ENV["PYTHONPYCACHEPREFIX"] = str(d / "pycache")
        for sub in "abc":
            (d / sub).mkdir()
        start_up(d / "c", rounds)
        lines_per_second(d / "a", 200_000 if args.quick else 2_000_000, rounds)
        versus_asncounter(d / "b", 40_000 if args.quick else 400_000, rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
