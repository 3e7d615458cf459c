"""`dpi-report fetch-table`: a download replaces the table only when it is a usable table.

A real HTTP server on loopback serves the files; never the Internet.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from middleware.report.synthetic import make_networks, write_iptoasn, write_pyasn
from tests.support.mmdb_writer import write_asn_mmdb

DPI_REPORT = [sys.executable, "-m", "middleware", "dpi-report"]
NO_PROXY_ENV = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


class Files(dict[str, tuple[int, bytes]]):
    """path → (status, body) the server answers."""


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Files]]:
    files = Files()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = files.get(self.path.split("?")[0], (404, b"not found"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("tables")
    nets = make_networks(50, seed=4)
    tsv = write_iptoasn(nets, d / "t.tsv").read_bytes()
    dat = write_pyasn(nets, d / "t.dat").read_bytes()
    write_asn_mmdb(d / "GeoLite2-ASN.mmdb", {"8.8.8.0/24": (15169, "GOOGLE"),
                                             "2001:db8::/32": (64500, "DOC")})  # fmt: skip
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w:gz") as t:
        t.add(d / "GeoLite2-ASN.mmdb", arcname="GeoLite2-ASN_20261127/GeoLite2-ASN.mmdb")
        t.add(d / "t.tsv", arcname="GeoLite2-ASN_20261127/LICENSE.txt")
    small = b"".join(tsv.splitlines(keepends=True)[:5])
    return {"tsv.gz": gzip.compress(tsv), "dat": dat, "tar": tar.getvalue(), "small": small,
            "tsv": tsv}  # fmt: skip


def fetch(*args: str | Path, code: int) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*DPI_REPORT, "fetch-table", *map(str, args)],
        capture_output=True, text=True, timeout=120, env=NO_PROXY_ENV,
    )  # fmt: skip
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc


@pytest.mark.parametrize(
    ("served", "out_name", "says"),
    [
        ("tsv.gz", "ip2asn-v4.tsv.gz", "AS numbers, 50 named"),
        ("dat", "ipasn.dat", "AS numbers, 0 named"),  # pyasn files carry no names
        ("tar", "GeoLite2-ASN.mmdb", "2 AS numbers, 2 named"),  # MaxMind's .tar.gz
    ],
)
def test_a_good_table_is_checked_and_installed(
    server: tuple[str, Files], tables: dict[str, bytes], tmp_path: Path,
    served: str, out_name: str, says: str,
) -> None:  # fmt: skip
    base, files = server
    files[f"/{served}"] = (200, tables[served])
    out = tmp_path / out_name
    proc = fetch(f"{base}/{served}?license_key=SEKRIT", out, code=0)
    assert says in proc.stdout and "ranges" in proc.stdout
    assert "SEKRIT" not in proc.stdout + proc.stderr  # the query is never printed
    assert out.is_file() and os.listdir(tmp_path) == [out_name]  # no temporary file left
    report = subprocess.run([*DPI_REPORT, "demo-log", tmp_path / "x.log", "--lines", "50"],
                            capture_output=True, timeout=60)  # fmt: skip
    assert report.returncode == 0
    used = subprocess.run([*DPI_REPORT, "--asn-table", out, "--json", tmp_path / "x.log"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert used.returncode == 0, used.stderr  # dpi-report reads what fetch-table installed


@pytest.mark.parametrize(
    ("served", "body", "extra", "says"),
    [
        ("/page", b"<!doctype html><title>Rate limited</title>\n", [], "not a usable table"),
        ("/missing", None, [], "answered 404"),
        ("/cut.gz", "cut", [], "not a usable table"),
        ("/big", "tsv", ["--max-bytes", "100"], "larger than --max-bytes"),
        ("/small", "small", [], "under half"),
        ("/empty", b"# nothing routed\n", [], "holds no prefix"),
    ],
)
def test_a_bad_download_leaves_the_old_table_alone(
    server: tuple[str, Files], tables: dict[str, bytes], tmp_path: Path,
    served: str, body: bytes | str | None, extra: list[str], says: str,
) -> None:  # fmt: skip
    base, files = server
    if isinstance(body, str):
        body = tables["tsv.gz"][:200] if body == "cut" else tables[body]
    if body is not None:
        files[served] = (200, body)
    out = tmp_path / ("t.tsv.gz" if served == "/cut.gz" else "t.tsv")
    out.write_bytes(tables["tsv"] if out.suffix == ".tsv" else tables["tsv.gz"])
    before = out.read_bytes()
    proc = fetch(f"{base}{served}", out, *extra, code=1)
    assert says in proc.stderr and "left as it was" in proc.stderr
    assert out.read_bytes() == before and os.listdir(tmp_path) == [out.name]


def test_force_accepts_a_much_smaller_table(
    server: tuple[str, Files], tables: dict[str, bytes], tmp_path: Path
) -> None:
    base, files = server
    files["/small"] = (200, tables["small"])
    out = tmp_path / "t.tsv"
    out.write_bytes(tables["tsv"])
    proc = fetch(f"{base}/small", out, "--force", code=0)
    assert out.read_bytes() == tables["small"] and ", was " in proc.stdout


@pytest.mark.parametrize(
    ("url", "out", "says"),
    [
        ("file:///etc/passwd", "t.tsv", "not an http"),
        ("ftp://127.0.0.1/t.tsv", "t.tsv", "not an http"),
        ("http://127.0.0.1:1/t.tsv", "/nonexistent-dir/t.tsv", "OUT"),
        ("http://127.0.0.1:1/t.tsv", "--timeout=nan", "--timeout"),
        # urllib would resolve "user:pass@127.0.0.1" as a host name: the password to DNS
        ("http://user:hunter2@127.0.0.1:1/t.tsv", "t.tsv", "credentials in the URL"),
        ("https://:hunter2@127.0.0.1:1/t.tsv", "t.tsv", "credentials in the URL"),
    ],
)
def test_usage_errors(tmp_path: Path, url: str, out: str, says: str) -> None:
    args = [url, tmp_path / "t.tsv", out] if out.startswith("--") else [url, out]
    if out == "t.tsv":
        args = [url, tmp_path / out]
    proc = fetch(*args, code=2)
    assert says in proc.stderr
    assert "hunter2" not in proc.stderr + proc.stdout


def test_a_server_that_is_not_there_is_exit_1(tmp_path: Path) -> None:
    proc = fetch("http://127.0.0.1:1/t.tsv", tmp_path / "t.tsv", code=1)
    assert "cannot download" in proc.stderr
