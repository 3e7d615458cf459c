"""dpi-report end to end on small generated logs: outputs, inputs, recovery, errors."""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from middleware.report.synthetic import (
    SEED_ASN,
    Truth,
    generate_log,
    make_networks,
    write_iptoasn,
    write_pyasn,
)
from middleware.signed import KeyRing, sign_url

SECRET_B64 = "c2VjcmV0LWtleS1mb3ItdGVzdC12ZWN0b3JzLTAwMDE"
RING = KeyRing.from_secrets([("k1", b"secret-key-for-test-vectors-0001")])
DPI_REPORT = [sys.executable, "-m", "middleware", "dpi-report"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Truth]:
    d = tmp_path_factory.mktemp("small")
    nets = make_networks(60, seed=3, incident_rank=10)
    sign = functools.partial(sign_url, keyring=RING, expires_at=1893456000)
    truth = generate_log(
        d / "access.log", nets, lines=30_000, corrupted=12, seed=5, clients=3000, sign=sign
    )
    return write_iptoasn(nets, d / "t.tsv"), write_pyasn(nets, d / "t.dat"), d / "access.log", truth


def dpi_report(*args: str | Path, code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*DPI_REPORT, *map(str, args)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == code, proc.stderr
    return proc


def as_json(*args: str | Path) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(dpi_report("--json", *args).stdout)
    return out


def test_json_document_is_complete_and_flags_the_incident(small: Any) -> None:
    table, _, log, truth = small
    doc = as_json("--asn-table", table, log)
    assert doc["schema"] == "edgeward.dpi-report/1"
    assert set(doc) == {
        "schema", "generated_at", "inputs", "totals", "test", "asns", "timeline", "recovery",
        "spans", "unmatched_events", "captures",
    }  # fmt: skip
    assert doc["totals"]["flagged"] == [SEED_ASN]
    assert doc["inputs"] == [
        {"path": str(log), "kind": "nginx-combined", "lines": 30_000, "malformed": 0,
         "first": "2026-11-27T00:00:00Z", "last": "2026-11-27T05:59:59Z"}
    ]  # fmt: skip
    assert doc["spans"] == {"logs": {"first": "2026-11-27T00:00:00Z",
                                     "last": "2026-11-27T05:59:59Z"}, "events": None}  # fmt: skip
    row = doc["asns"][0]
    assert set(row) == {
        "asn", "name", "requests", "corrupted", "kinds", "rate", "ci95", "p_value", "flagged",
        "first_corrupted", "last_corrupted",
    }  # fmt: skip
    assert row["requests"] == truth.requests[SEED_ASN] and row["corrupted"] == 12
    assert sum(k for _, k in doc["timeline"]["series"][str(SEED_ASN)]) == 12
    assert doc["recovery"] is None


@pytest.mark.parametrize("table_kind", ["tsv", "dat"])
def test_gzip_input_and_either_table_format_give_the_same_numbers(
    small: Any, tmp_path: Path, table_kind: str
) -> None:
    tsv, dat, log, _ = small
    gz = tmp_path / "access.log.1.gz"
    gz.write_bytes(gzip.compress(log.read_bytes(), compresslevel=1))
    plain = as_json("--asn-table", tsv, log)
    zipped = as_json("--asn-table", tsv if table_kind == "tsv" else dat, gz)
    strip = ("name",)  # pyasn .dat files carry no AS names
    rows = [{k: v for k, v in r.items() if k not in strip} for r in zipped["asns"]]
    assert rows == [{k: v for k, v in r.items() if k not in strip} for r in plain["asns"]]


def test_keys_recover_every_corrupted_signed_url(small: Any, tmp_path: Path) -> None:
    table, _, log, truth = small
    keys = tmp_path / "keys"
    keys.write_text(f"k1 {SECRET_B64}\n")
    keys.chmod(0o600)
    doc = as_json("--asn-table", table, "--keys", keys, log)
    rec = doc["recovery"]
    assert (rec["attempted"], rec["recovered"]) == (12, 12)
    assert sorted(i["original"] for i in rec["items"]) == sorted(truth.original_targets)
    text = dpi_report("--asn-table", table, "--keys", keys, log)
    assert "recovered 12 of 12" in text.stdout
    html_out = tmp_path / "r.html"
    dpi_report("--asn-table", table, "--keys", keys, "--html", html_out, log)
    for output in (json.dumps(doc), text.stdout, text.stderr, html_out.read_text()):
        assert SECRET_B64 not in output and "secret-key-for" not in output


def test_wrong_keys_recover_nothing(small: Any, tmp_path: Path) -> None:
    table, _, log, _ = small
    keys = tmp_path / "keys"
    keys.write_text("k1 YS1kaWZmZXJlbnQtc2VjcmV0LW9mLTMyLWJ5dGVzISE\n")
    keys.chmod(0o600)
    rec = as_json("--asn-table", table, "--keys", keys, "--max-tries", "500", log)["recovery"]
    assert (rec["attempted"], rec["recovered"]) == (12, 0)
    assert all(i["tries"] <= 500 for i in rec["items"])


def test_html_is_self_contained_with_a_chart(small: Any, tmp_path: Path) -> None:
    table, _, log, _ = small
    out = tmp_path / "report.html"
    proc = dpi_report("--asn-table", table, "--html", out, log)
    page = out.read_text()
    assert "1 network(s) flagged" in proc.stderr
    assert page.startswith("<!doctype html>") and "<svg" in page and f"AS{SEED_ASN}" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # no external assets
    assert "<script" not in page
    svg = ElementTree.fromstring(page[page.index("<svg") : page.index("</svg>") + 6])  # noqa: S314 (our own output)
    bars = svg.findall("{http://www.w3.org/2000/svg}rect")
    assert bars and all(float(b.get("height", "0")) > 0 for b in bars)
    assert sum(int(b.findtext("{http://www.w3.org/2000/svg}title", "").rsplit(" ", 1)[1])
               for b in bars) == 12  # every corrupted request is in the chart  # fmt: skip


def test_text_table_names_the_flagged_network(small: Any) -> None:
    table, _, log, _ = small
    out = dpi_report("--asn-table", table, log).stdout
    assert "SIGNIFICANT" in out and "Singapore" in out
    assert "Significant (Fisher exact, one-sided, p < 0.05/60" in out
    assert f"AS{SEED_ASN}" in out.splitlines()[-1]


def test_events_and_logs_are_not_double_counted(small: Any, tmp_path: Path) -> None:
    table, _, log, _ = small
    first = as_json("--asn-table", table, log)
    # What dpi-watch --events wrote while reading the same log, plus one ASGI-only event.
    events = tmp_path / "edge-events.jsonl"
    corrupted_lines = [x for x in log.read_bytes().splitlines() if b"\\x80" in x]
    from middleware.edge.nginx_log import parse_combined

    rows = []
    for raw in corrupted_lines:
        rec = parse_combined(raw)
        rows.append({"time": rec.time + 0.4, "source": "edge", "kind": "dpi_signature",
                     "client": rec.client, "asn": SEED_ASN, "as_name": "", "prefix": "",
                     "evidence_hex": "80", "offset": 0, "detail": "request_line"})  # fmt: skip
    # A request the ASGI sensor saw that no log line shows: set apart, never counted.
    rows.append({**rows[0], "source": "asgi", "time": LOG_START + 1800})
    events.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n")
    both = as_json("--asn-table", table, log, events)
    assert both["totals"]["corrupted"] == first["totals"]["corrupted"] == 12
    assert both["asns"] == first["asns"]
    assert both["unmatched_events"]["count"] == 1
    assert both["unmatched_events"]["reasons"] == {"no_log_line": 1}
    assert both["inputs"][1]["lines"] == 14 and both["inputs"][1]["malformed"] == 1
    only = as_json(events)
    assert only["totals"]["requests"] is None and only["totals"]["flagged"] == []
    assert only["asns"][0]["rate"] is None and only["asns"][0]["corrupted"] == 13
    assert only["unmatched_events"]["count"] == 0  # without logs, events are what there is


LOG_START = 1795737600  # 2026-11-27T00:00:00Z, where generate_log starts


def _event(t: float, client: str = "192.0.2.7", asn: int | None = None) -> str:
    return json.dumps({"time": t, "source": "asgi", "kind": "invalid_utf8", "client": client,
                       "asn": asn, "as_name": "", "prefix": "", "evidence_hex": "c3",
                       "offset": 3, "detail": "path"}) + "\n"  # fmt: skip


@pytest.mark.parametrize(
    ("times", "reasons"),
    [
        ([LOG_START + 60], {"no_log_line": 1}),  # one event gave p = 0.00021 and a flag
        ([LOG_START + 60 * i for i in range(1, 5)], {"no_log_line": 4}),
        ([LOG_START - 86400, LOG_START + 10 * 86400], {"before_logs": 1, "after_logs": 1}),
    ],
)
def test_events_without_their_requests_never_flag_a_network(
    tmp_path: Path, times: list[float], reasons: dict[str, int]
) -> None:
    nets = make_networks(20, seed=9, incident_rank=5)
    table = write_iptoasn(nets, tmp_path / "t.tsv")
    log = tmp_path / "access.log"
    generate_log(log, nets, lines=5_000, corrupted=0, clients=500)
    events = tmp_path / "corruption.jsonl"
    events.write_text("".join(_event(t) for t in times))
    doc = as_json("--asn-table", table, log, events)
    assert doc["totals"]["flagged"] == [] and doc["totals"]["corrupted"] == 0
    assert all(r["corrupted"] == 0 and not r["flagged"] for r in doc["asns"])
    assert doc["unmatched_events"]["count"] == len(times)
    assert doc["unmatched_events"]["reasons"] == reasons
    assert doc["unmatched_events"]["asns"] == {"0": len(times)}
    last = log.read_bytes().splitlines()[-1].split(b"[")[1][:20].decode()  # 27/Nov/2026:05:59:5x
    assert doc["spans"]["logs"] == {"first": "2026-11-27T00:00:00Z",
                                    "last": f"2026-11-27T05:59:{last[-2:]}Z"}  # fmt: skip
    assert doc["spans"]["events"]["first"] is not None
    text = dpi_report("--asn-table", table, log, events).stdout
    assert "SIGNIFICANT" not in text
    assert f"{len(times)} event(s) set apart" in text
    assert "Logs: 2026-11-27 00:00 – 2026-11-27 05:59 UTC (6 h)." in text
    assert "Events: " in text
    page = tmp_path / "r.html"
    dpi_report("--asn-table", table, "--html", page, log, events)
    html_text = page.read_text()
    assert "Events set apart" in html_text and "Logs: 2026-11-27 00:00" in html_text


def test_malformed_lines_are_counted_and_skipped(small: Any, tmp_path: Path) -> None:
    table, _, log, _ = small
    bad = tmp_path / "mixed.log"
    bad.write_bytes(b"garbage\n" + log.read_bytes()[:200_000] + b"\xff\xfe\n" + b"cut line")
    doc = as_json("--asn-table", table, bad)
    assert doc["inputs"][0]["malformed"] == 3
    assert doc["totals"]["requests"] == doc["inputs"][0]["lines"] - 3


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["/nonexistent/access.log"], "/nonexistent/access.log"),
        (["--asn-table", "/nonexistent/t.tsv", "x"], "t.tsv"),
        (["--keys", "/nonexistent/keys", "x"], "key file not found"),
        (["--alpha", "2", "x"], "--alpha"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], says: str) -> None:
    proc = dpi_report(*args, code=2)
    assert says in proc.stderr and "Traceback" not in proc.stderr


def test_help_explains_the_test() -> None:
    out = dpi_report("--help").stdout
    for needle in ("Fisher", "Bonferroni", "Wilson", "examples:", "recovered k of n", "schema"):
        assert needle in out


@pytest.mark.parametrize(("extra", "shown"), [([], True), (["--no-progress"], False)])
def test_progress_on_large_inputs(
    small: Any, tmp_path: Path, extra: list[str], shown: bool
) -> None:
    table, _, log, _ = small
    big = tmp_path / "big.log"
    big.write_bytes(log.read_bytes() * 4)  # > 16 MB: worth a progress bar
    assert big.stat().st_size > 16 << 20
    env = {**os.environ, "TTY_INTERACTIVE": "1", "TTY_COMPATIBLE": "1"}  # as on a terminal
    proc = subprocess.run(
        [*DPI_REPORT, "--asn-table", str(table), "--json", *extra, str(big)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0
    assert ("reading big.log" in proc.stderr and "MB" in proc.stderr) is shown
    assert json.loads(proc.stdout)["totals"]["requests"] == 120_000  # stdout stays clean


def test_a_clean_log_flags_nothing_in_every_output(tmp_path: Path) -> None:
    nets = make_networks(20, seed=9, incident_rank=5)
    table = write_iptoasn(nets, tmp_path / "t.tsv")
    log = tmp_path / "clean.log"
    generate_log(log, nets, lines=5_000, corrupted=0, clients=500)
    doc = as_json("--asn-table", table, log)
    assert (doc["totals"]["corrupted"], doc["totals"]["flagged"]) == (0, [])
    assert all(r["p_value"] == 1.0 and r["ci95"][0] == 0.0 for r in doc["asns"])
    assert doc["timeline"]["series"] == {}
    out = tmp_path / "clean.html"
    dpi_report("--asn-table", table, "--html", out, log)
    assert "nothing to chart" in out.read_text()
    assert (
        "Significant (Fisher exact, one-sided, p < 0.05/20"
        in dpi_report("--asn-table", table, log).stdout
    )


def test_names_are_printed_as_text_never_as_markup(tmp_path: Path) -> None:
    events = tmp_path / "[red]events[x].jsonl"
    name = "[/bold] EVIL [link=x]NET[/link] <script>"
    row = {"time": 1.0, "source": "asgi", "kind": "invalid_utf8", "client": "8.8.8.8",
           "asn": 64512, "as_name": name}  # fmt: skip
    events.write_text(json.dumps(row) + "\n")
    out = dpi_report(events).stdout
    assert "EVIL" in out and "[link=x]NET[/link]" in out.replace("\n", "").replace(" ", "")
    page = tmp_path / "[b]r.html"
    proc = dpi_report("--html", page, events)
    assert "<script>" not in page.read_text() and "&lt;script&gt;" in page.read_text()
    assert str(page) in proc.stderr


def test_each_network_says_since_when(small: Any) -> None:
    table, _, log, _ = small
    doc = as_json("--asn-table", table, log)
    times = sorted(
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.strptime(x.split(b"[")[1][:20].decode(),
                                                          "%d/%b/%Y:%H:%M:%S"))
        for x in log.read_bytes().splitlines() if b"\\x80" in x
    )  # fmt: skip
    row = doc["asns"][0]
    assert (row["first_corrupted"], row["last_corrupted"]) == (times[0], times[-1])
    assert all(r["first_corrupted"] is None for r in doc["asns"][1:])
    assert doc["timeline"]["bucket_seconds"] == 3600
    assert doc["timeline"]["axis"] == [LOG_START, LOG_START + 6 * 3600]
    text = dpi_report("--asn-table", table, log).stdout
    assert f"AS{SEED_ASN} {times[0][:16].replace('T', ' ')}" in " ".join(text.split())


@pytest.mark.parametrize(
    "content",
    [
        bytes(range(256)) * 64,  # binary junk
        b"2026/11/27 03:35:15 [error] 1234#1234: *1 open() failed (2: No such file)\n" * 5,
        b'{"level": "info", "msg": "started"}\n{"level": "info", "msg": "ready"}\n',
        b"",
    ],
)
def test_input_without_nginx_lines_or_events_is_one_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "input.log"
    path.write_bytes(content)
    proc = dpi_report(path, code=2)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "no nginx access-log line and no event" in proc.stderr and str(path) in proc.stderr


@pytest.mark.parametrize("html", ["/nonexistent-dir/r.html", "DIR"])
def test_an_unusable_html_path_fails_before_reading(tmp_path: Path, html: str) -> None:
    fifo = tmp_path / "never-written.log"
    os.mkfifo(fifo)  # reading it would block forever
    out = str(tmp_path) if html == "DIR" else html
    proc = dpi_report("--html", out, fifo, code=2)  # times out if the input is opened
    assert proc.stderr.startswith(f"error: --html {out}:") and "Traceback" not in proc.stderr


def _as_terminal(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TTY_INTERACTIVE": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "100"}
    return subprocess.run(
        [*DPI_REPORT, *map(str, args)], capture_output=True, text=True, timeout=120, env=env
    )


def test_recovery_progress_shows_a_real_total(small: Any, tmp_path: Path) -> None:
    table, _, log, _ = small
    keys = tmp_path / "keys"
    keys.write_text(f"k1 {SECRET_B64}\n")
    keys.chmod(0o600)
    proc = _as_terminal("--asn-table", table, "--keys", keys, "--json", log)
    assert proc.returncode == 0, proc.stderr
    assert "recovering signed URLs" in proc.stderr
    assert re.search(r"\b\d+/12\b", proc.stderr)  # done/total, not bytes or "?"
    assert "MB" not in proc.stderr.split("recovering signed URLs", 1)[1]


def test_log_lines_never_print_into_the_progress_bar(small: Any, tmp_path: Path) -> None:
    table, _, log, _ = small
    big = tmp_path / "big.log"
    big.write_bytes(log.read_bytes() * 4)
    proc = _as_terminal("--asn-table", table, "--json", big, log)
    assert proc.returncode == 0, proc.stderr
    logged = proc.stderr.index("big.log: nginx-combined, 120,000 lines")
    assert proc.stderr.rfind("reading ") < logged  # the bar was gone before anything logged
    assert "\x1b" not in proc.stderr[logged:]  # no bar redrawn after (or around) a log line


OTHER = KeyRing.from_secrets([("k1", b"a-different-secret-of-32-bytes!!")])


@pytest.fixture(scope="module")
def forged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A log with 40 forged corrupted signed URLs from one network, then 3 genuine ones
    from AS9506; the keys that verify the genuine ones."""
    d = tmp_path_factory.mktemp("forged")
    nets = make_networks(30, seed=5, incident_rank=3)
    flooder = nets[0].asn
    fake = functools.partial(sign_url, keyring=OTHER, expires_at=1893456000)
    real = functools.partial(sign_url, keyring=RING, expires_at=1893456000)
    generate_log(d / "a.log", nets, lines=3000, corrupted=40, corrupt_asn=flooder, seed=1,
                 clients=300, sign=fake)  # fmt: skip
    generate_log(d / "b.log", nets, lines=3000, corrupted=3, seed=2, clients=300, sign=real)
    log = d / "access.log"
    log.write_bytes((d / "a.log").read_bytes() + (d / "b.log").read_bytes())
    keys = d / "keys"
    keys.write_text(f"k1 {SECRET_B64}\n")
    keys.chmod(0o600)
    return write_iptoasn(nets, d / "t.tsv"), log, keys


def test_recovery_stops_at_its_count_budget_and_says_how_many_were_skipped(
    forged: tuple[Path, Path, Path],
) -> None:
    table, log, keys = forged
    args = ("--asn-table", table, "--keys", keys, "--recover-max", "6", log)
    rec = as_json(*args)["recovery"]
    assert (rec["attempted"], rec["skipped"]) == (6, 43 - 6)
    # Round robin over networks, flagged first: the flood does not starve AS9506's URLs.
    assert rec["recovered"] == 3
    proc = dpi_report(*args)
    assert "recovered 3 of 6; 37 more not tried" in " ".join(proc.stdout.split())
    assert "37 distinct URL(s) not tried" in proc.stderr


def test_recovery_stops_at_its_time_budget(forged: tuple[Path, Path, Path]) -> None:
    table, log, keys = forged
    started = time.monotonic()
    rec = as_json("--asn-table", table, "--keys", keys, "--recover-seconds", "0.2", log)["recovery"]
    elapsed = time.monotonic() - started
    assert rec["skipped"] > 0 and rec["attempted"] + rec["skipped"] == 43
    assert elapsed < 30  # 40 forged URLs cost ~3-10 s here without the budget


def test_a_repeated_forged_url_is_tried_once(
    tmp_path: Path, forged: tuple[Path, Path, Path]
) -> None:
    table, log, keys = forged
    line = next(x for x in log.read_bytes().splitlines() if b"\\x80" in x)
    flood = tmp_path / "flood.log"
    flood.write_bytes((line + b"\n") * 500 + log.read_bytes()[:20_000])
    rec = as_json("--asn-table", table, "--keys", keys, flood)["recovery"]
    assert (rec["attempted"], rec["skipped"]) == (1, 0)
