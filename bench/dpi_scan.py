"""``dpi-report``'s read of a ``combined`` log: instructions per line, deterministic.

CPU seconds per line swing with the load of a shared machine (cache and core contention);
instructions executed do not. Each side runs as its own process under
``valgrind --tool=callgrind`` over the first N and the first 2N lines of one generated
log (``dpi-report demo-log``'s generator: browsing sessions, percent-encoded searches,
the seed's corrupted lines); the two counts differ by exactly N lines' work, so start-up
and imports cancel out. Two sides:

- **scan**: :func:`middleware.report.inputs.read_part`, what ``dpi-report`` runs per part
  (block reads, the chunk scan, counting clients, candidates cleared and classified);
- **parse**: the plain definition it must equal, each line parsed with
  :func:`~middleware.edge.nginx_log.parse_combined`, clients counted, the request classified.

Prints instructions per line of each and the ratio (parse ÷ scan), as a ``SUMMARY`` line.
With ``--runs K`` the scan is counted K times, to show the spread (none expected).

Run: ``.venv/bin/python bench/dpi_scan.py`` (about 3 CPU-minutes, mostly the line-by-line
side; needs Debian's ``valgrind``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from middleware.report.synthetic import generate_log, make_networks

_CHILD = """
import sys
from collections import Counter
from pathlib import Path
from middleware.corruption.classify import classify
from middleware.edge.nginx_log import MalformedLine, parse_combined
from middleware.report.inputs import part_of, read_part

path = Path(sys.argv[2])
if sys.argv[1] == "scan":
    read_part(part_of(path))
else:
    clients: Counter[str] = Counter()
    with path.open("rb") as f:
        for line in f:
            try:
                record = parse_combined(line)
            except MalformedLine:
                continue
            clients[record.client] += 1
            classify(record.request)
"""


def instructions(side: str, log: Path) -> int:
    """Instructions one process executes reading ``log`` as ``side`` does."""
    with tempfile.TemporaryDirectory(prefix=f"edgeward-dpi-scan-{os.getpid()}-") as tmp:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/out",
                sys.executable,
                "-c",
                _CHILD,
                side,
                str(log),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_line(side: str, small: Path, big: Path, lines: int) -> float:
    return (instructions(side, big) - instructions(side, small)) / lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=20_000, help="N (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=1, help="counts of the scan side")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("bench/dpi_scan.py needs valgrind (Debian: apt-get install valgrind)")
    n = args.lines
    with tempfile.TemporaryDirectory(prefix=f"edgeward-dpi-scan-{os.getpid()}-") as tmp:
        d = Path(tmp)
        nets = make_networks(400, seed=1, incident_rank=40)
        whole = d / "whole.log"
        generate_log(whole, nets, lines=2 * n, corrupted=76, seed=1, clients=60_000)
        small, big = d / "small.log", d / "big.log"
        with whole.open("rb") as src, small.open("wb") as out:
            for _, line in zip(range(n), src, strict=False):
                out.write(line)
        shutil.copy(whole, big)
        scans = [per_line("scan", small, big, n) for _ in range(args.runs)]
        parse = per_line("parse", small, big, n)
    scan = min(scans)
    spread = (max(scans) - scan) / scan * 100
    print(f"scan: {', '.join(f'{s:,.0f}' for s in scans)} instructions a line")
    print(f"parse line by line: {parse:,.0f} instructions a line")
    print(
        f"SUMMARY dpi-report read of a combined log, instructions a line, line-by-line parse "
        f"÷ scan: {parse / scan:.2f}  (scan {scan:,.0f}, parse {parse:,.0f}; N = {n:,} lines, "
        f"counted N and 2N; spread over {args.runs} run(s) {spread:.2f} %)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
