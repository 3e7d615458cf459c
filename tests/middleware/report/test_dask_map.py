"""``dpi-report --dask``: the map step on a real Dask cluster (two worker processes on
127.0.0.1) gives the report a local run gives."""

from __future__ import annotations

import gzip
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from middleware.cli.dpi_report import main
from middleware.report.dask_map import pinned
from middleware.report.synthetic import SEED_ASN, generate_log, make_networks, write_iptoasn
from tests.support.tools import in_ci

if in_ci():  # CI installs every extra: a missing one there is a failure, not a skip
    import distributed
else:
    distributed = pytest.importorskip("distributed", reason="pip install 'edgeward[dask]'")


STARTED: list[float] = []


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local cluster bound to loopback only, no dashboard: its scheduler's address."""
    STARTED.append(time.monotonic())
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    ) as lc:
        yield lc.scheduler_address
        # The handlers the CLI installed write to a test's stream that is closed by now.
        logging.getLogger("distributed").setLevel(logging.CRITICAL)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("dask")
    nets = make_networks(60, seed=3, incident_rank=10)
    write_iptoasn(nets, d / "t.tsv")
    out = [d / "t.tsv"]
    for n in range(4):
        generate_log(d / f"{n}.log", nets, lines=4000, corrupted=3, seed=n, clients=600)
        out.append(d / f"{n}.log")
    out[-1] = d / "3.log.gz"
    out[-1].write_bytes(gzip.compress((d / "3.log").read_bytes()))
    return out


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_report_on_a_dask_cluster_equals_the_local_one(
    cluster: str,
    logs: list[Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")
    table, *files = map(str, logs)
    # One input pinned to the workers on 127.0.0.1 (HOST::PATH), the rest to any worker.
    remote = [files[0], f"127.0.0.1::{files[1]}", *files[2:]]
    code, on_dask, err = _run(capsys, "--dask", cluster, "--json", "--asn-table", table, *remote)
    assert code == 0, err
    assert time.monotonic() - STARTED[0] < 30  # the cluster's start included
    code, local, err = _run(capsys, "--json", "--no-progress", "--asn-table", table, *files)
    assert code == 0, err
    assert on_dask == local
    assert f'"flagged": [\n      {SEED_ASN}\n    ]' in local


def test_an_input_error_on_a_worker_is_one_line(
    cluster: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "--dask", cluster, str(tmp_path / "missing.log"))
    last = err.splitlines()[-1]
    assert code == 2 and last.startswith("error: ") and "missing.log: cannot read" in last, err
    assert "Traceback" not in err


def test_an_unreachable_scheduler_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("middleware.report.dask_map.CONNECT_SECONDS", 2.0)
    log = tmp_path / "a.log"
    log.write_text("x\n", encoding="ascii")
    code, _, err = _run(capsys, "--dask", "tcp://127.0.0.1:1", str(log))
    assert code == 2 and "--dask tcp://127.0.0.1:1: cannot connect" in err, err


def test_without_the_extra_the_error_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    code, _, err = _run(capsys, "--dask", "tcp://127.0.0.1:1", str(tmp_path / "a.log"))
    assert code == 2 and "pip install 'edgeward[dask]'" in err, err


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("web1::/var/log/nginx/access.log", ("web1", "/var/log/nginx/access.log")),
        ("10.0.0.5::a.log", ("10.0.0.5", "a.log")),
        ("/var/log/a::b.log", (None, "/var/log/a::b.log")),  # a path holding '::'
        ("access.log", (None, "access.log")),
        ("::a.log", (None, "::a.log")),
        ("web1::", (None, "web1::")),
    ],
)
def test_host_and_path(spec: str, expected: tuple[str | None, str]) -> None:
    assert pinned(spec) == expected
