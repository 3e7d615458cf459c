"""Benchmark: ``dpi-report`` over a log of any size at bounded memory (issue 15).

The log is streamed: this script renders one block of synthetic ``combined`` lines
(:func:`middleware.report.synthetic.generate_log`: browsing sessions from 400 networks,
``--corrupted-per-block`` lines damaged like the seed, all from AS9506) and writes it to
``dpi-report -`` (standard input) again and again until ``--lines`` lines went through. The
log is never on disk, so a 100,000,000-line run (about 17 GB) needs no space.

Per size, one line: lines, wall seconds, lines/s, CPU seconds, and the peak RSS of the
reporting process (its ``VmHWM``, sampled from ``/proc`` until it exits: ``ru_maxrss`` also
counts the parent's pages the child had between fork and exec, here the rendered block),
whether its JSON counts every line, and what
it flags (AS9506 once enough blocks went through to make its few damaged lines
significant). With two sizes or more, the last line is the peak RSS of the largest ÷ the
smallest: memory is flat in the input size when it is near 1. Every block repeats the same
clients, so the number of distinct clients (what the report's memory does grow with) is the
same at every size; a real log's grows far slower than its lines.

Run: ``nice .venv/bin/python bench/report_scale.py`` (1M and 10M lines), or
``nice .venv/bin/python bench/report_scale.py --lines 10000000 --lines 100000000``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from middleware.report.synthetic import SEED_ASN, generate_log, make_networks, write_iptoasn

_BLOCK_LINES = 250_000


@dataclass
class Run:
    lines: int
    seconds: float
    cpu: float
    peak_mib: float
    counted: int
    flagged: list[int]


def render_block(folder: Path, corrupted: int) -> tuple[bytes, Path]:
    """One block of log lines (in memory) and the IP→ASN table that maps its clients."""
    nets = make_networks(400, seed=1)
    table = write_iptoasn(nets, folder / "scale.asn.tsv")
    log = folder / "block.log"
    generate_log(log, nets, lines=_BLOCK_LINES, corrupted=corrupted, seed=1, clients=60_000)
    block = log.read_bytes()
    log.unlink()
    return block, table


class PeakSampler(threading.Thread):
    """The process's ``VmHWM`` (peak RSS since its exec), read until it is gone."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.status = Path(f"/proc/{pid}/status")
        self.kib = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            try:
                text = self.status.read_text(encoding="ascii")
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    self.kib = max(self.kib, int(line.split()[1]))


def run(lines: int, block: bytes, table: Path) -> Run:
    """Stream ``lines`` lines into one ``dpi-report -`` and measure that process."""
    cmd = [sys.executable, "-m", "middleware.cli.dpi_report", "--asn-table", str(table)]
    cmd += ["--json", "--no-progress", "-"]
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE)
        assert child.stdin is not None
        peak = PeakSampler(child.pid)
        peak.start()
        copies, rest = divmod(lines, _BLOCK_LINES)
        for _ in range(copies):
            child.stdin.write(block)
        if rest:
            cut = 0
            for _ in range(rest):
                cut = block.index(b"\n", cut) + 1
            child.stdin.write(block[:cut])
        child.stdin.close()
        while os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT) is None:
            pass  # exited, not yet reaped: its last VmHWM was read
        peak.done.set()
        peak.join()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        assert child.stderr is not None
        errors = child.stderr.read().decode(errors="replace")
        if child.returncode != 0:
            raise SystemExit(f"dpi-report exited {child.returncode}: {errors}")
        out.seek(0)
        doc = json.load(out)
    return Run(
        lines=lines,
        seconds=seconds,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_mib=peak.kib / 1024,
        counted=doc["totals"]["requests"],
        flagged=doc["totals"]["flagged"],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--lines", type=int, action="append", metavar="N", help="log lines (repeat for sizes)"
    )
    ap.add_argument("--corrupted-per-block", type=int, default=1, metavar="N")
    args = ap.parse_args()
    sizes = args.lines or [1_000_000, 10_000_000]
    with tempfile.TemporaryDirectory(prefix="edgeward-scale-") as tmp:
        block, table = render_block(Path(tmp), args.corrupted_per_block)
        results = []
        for lines in sizes:
            r = run(lines, block, table)
            results.append(r)
            ok = r.counted == lines and r.flagged in ([], [SEED_ASN])
            print(
                f"dpi-report - : {r.lines:,} lines in {r.seconds:.1f} s "
                f"({r.lines / r.seconds:,.0f} lines/s), CPU {r.cpu:.1f} s, "
                f"peak RSS {r.peak_mib:.1f} MiB; counted {r.counted:,}, "
                f"flagged {r.flagged} {'ok' if ok else 'WRONG'}",
                flush=True,
            )
    if len(results) > 1:
        small = min(results, key=lambda r: r.lines)
        big = max(results, key=lambda r: r.lines)
        print(
            f"peak RSS at {big.lines:,} lines ÷ at {small.lines:,} lines: "
            f"{big.peak_mib / small.peak_mib:.3f} ({big.lines // small.lines}x the input)"
        )


if __name__ == "__main__":
    main()
