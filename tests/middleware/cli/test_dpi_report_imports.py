"""``dpi-report``'s start-up: a plain run imports only what reads, counts and writes JSON.

At 400,000 lines the imports were a third of the whole command; each feature's modules
(rich, the HTML page, partials, Dask, packet-capture readers aside, the demo-log and
fetch-table tools, signed-URL recovery) are imported where that feature is used. Checked
in a fresh interpreter: ``sys.modules`` after importing the command, and after a run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from middleware.report.synthetic import generate_log, make_networks, write_pyasn

# Never needed by `dpi-report --asn-table T --json LOG`, and each costs start-up time.
NOT_IN_A_PLAIN_RUN = [
    "rich",  # progress bars (a terminal, a big input) and the text table only
    "html5lib",
    "cryptography",
    "dask",
    "distributed",
    "dpkt",  # packet captures are read only when an input is one
    "multiprocessing",  # workers are forked by os.fork, no pool machinery
    "concurrent.futures",
    "edgeward.config",  # and its TOML parser: dpi-report reads no configuration file
    "tomllib",
    "tarfile",
    "middleware.cli.dpi_report_tools",
    "middleware.report.fetch",
    "middleware.report.synthetic",
    "middleware.report.partial",
    "middleware.report.dask_map",
    "middleware.report.render_html",
    "middleware.report.render_text",
]
# The ASGI middleware and prometheus_client's HTTP exposition: middleware.signed loads
# SignedURLMiddleware on first use only (they were ~20 % of a plain run's start-up).
SIGNED_MIDDLEWARE = ["starlette", "prometheus_client", "http.server", "ssl", "urllib.request"]

PROBE = """
import json, sys
import middleware.cli.dpi_report as cli
cli.build_parser()  # what a run has done when its workers are forked
loaded = sorted(sys.modules)
if len(sys.argv) > 1:
    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = cli.main(sys.argv[1:])
    assert code == 0 and json.loads(out.getvalue())["totals"]["requests"] > 0
print(json.dumps([loaded, sorted(sys.modules)]))
"""


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], set[str]]:
    """The modules loaded by importing the command and building its parser (all a run
    has done when it forks its workers), and by a plain run over a log big enough to be
    read by two processes."""
    d = tmp_path_factory.mktemp("imports")
    nets = make_networks(30, seed=3, incident_rank=3)
    generate_log(d / "a.log", nets, lines=60_000, corrupted=5, seed=3, clients=500)
    table = write_pyasn(nets, d / "ipasn.dat")
    argv = ["--asn-table", str(table), "--json", "--jobs", "2", str(d / "a.log")]
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    imported, ran = json.loads(proc.stdout)
    return set(imported), set(ran)


def _loaded(modules: set[str], name: str) -> list[str]:
    return sorted(m for m in modules if m == name or m.startswith(name + "."))


@pytest.mark.parametrize("name", [*NOT_IN_A_PLAIN_RUN, *SIGNED_MIDDLEWARE, "middleware.signed"])
def test_the_command_before_reading_loads_no_feature(
    modules: tuple[set[str], set[str]], name: str
) -> None:
    assert _loaded(modules[0], name) == []


@pytest.mark.parametrize("name", NOT_IN_A_PLAIN_RUN)
def test_a_plain_json_run_loads_no_other_feature(
    modules: tuple[set[str], set[str]], name: str
) -> None:
    assert _loaded(modules[1], name) == []


@pytest.mark.parametrize("name", SIGNED_MIDDLEWARE)
def test_a_plain_json_run_loads_no_asgi_middleware(
    modules: tuple[set[str], set[str]], name: str
) -> None:
    assert _loaded(modules[1], name) == []


def test_the_other_outputs_still_load_what_they_need(tmp_path: Path) -> None:
    """The lazy imports are reached: text (rich), HTML, a partial, from the command."""
    nets = make_networks(5, seed=1, incident_rank=1)
    generate_log(tmp_path / "a.log", nets, lines=300, corrupted=2, seed=1, clients=20)
    table = write_pyasn(nets, tmp_path / "ipasn.dat")
    base = [sys.executable, "-m", "middleware", "dpi-report", "--asn-table", str(table)]
    html, partial = tmp_path / "r.html", tmp_path / "p.json"
    for extra, wrote in (
        ([], None),
        (["--html", str(html)], html),
        (["--partial", str(partial)], partial),
    ):
        proc = subprocess.run(
            [*base, *extra, str(tmp_path / "a.log")], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        assert wrote.stat().st_size > 0 if wrote else "AS" in proc.stdout
