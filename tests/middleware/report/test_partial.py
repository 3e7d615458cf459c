"""``dpi-report --partial`` and ``merge``: the same report as one run, strict reading."""

from __future__ import annotations

import copy
import functools
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from middleware.cli.dpi_report import main
from middleware.edge.nginx_log import parse_combined
from middleware.report.build import report_of
from middleware.report.partial import SCHEMA, PartialError, parse_partial, to_dict
from middleware.report.render_html import render_html
from middleware.report.render_json import render_json
from middleware.report.render_text import render_text
from middleware.report.synthetic import (
    SEED_ASN,
    generate_log,
    make_networks,
    write_iptoasn,
)
from middleware.signed import KeyRing, sign_url
from tests.support.pcapgen import conversation, write

RING = KeyRing.from_secrets([("k1", b"secret-key-for-test-vectors-0001")])
SECRET_B64 = "c2VjcmV0LWtleS1mb3ItdGVzdC12ZWN0b3JzLTAwMDE"
BAD = b"GET /media/IMG_\x80\x01.jpg HTTP/1.1\r\nHost: x\r\n\r\n"
CLEAN = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def _events(log: Path, out: Path) -> Path:
    """Events for half the log's corrupted lines (counted once), plus two the logs do not
    hold (set apart: before the logs, and within them with no line)."""
    lines = [ln for ln in log.read_bytes().splitlines() if b"\\x80" in ln]
    rows = []
    for line in lines[::2]:
        record = parse_combined(line)
        rows.append({"time": record.time + 1, "client": record.client, "kind": "dpi_signature",
                     "source": "edge", "asn": SEED_ASN, "as_name": "attributor"})  # fmt: skip
    rows.append({"time": 1795737600 - 86400, "client": "192.0.2.9", "kind": "dpi_signature",
                 "source": "asgi", "asn": 64500})  # fmt: skip
    rows.append({"time": 1795737600 + 600, "client": "192.0.2.9", "kind": "invalid_utf8",
                 "source": "asgi"})  # fmt: skip
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three logs (one gzipped, one with malformed lines, signed corrupted URLs), an
    events file and a packet capture; and the table and key file."""
    d = tmp_path_factory.mktemp("partial")
    nets = make_networks(80, seed=4, incident_rank=12)
    sign = functools.partial(sign_url, keyring=RING, expires_at=1893456000)
    files = {"table": write_iptoasn(nets, d / "t.tsv")}
    for name, seed, corrupted in (("a.log", 1, 9), ("b.log", 2, 4), ("c.log", 3, 0)):
        generate_log(d / name, nets, lines=6000, corrupted=corrupted, seed=seed, clients=900,
                     sign=sign)  # fmt: skip
        files[name] = d / name
    files["b.log"] = d / "b.log.gz"
    files["b.log"].write_bytes(gzip.compress((d / "b.log").read_bytes()))
    with files["c.log"].open("ab") as fh:
        fh.write(b"not a log line\n\x00\xff garbage\n")
    files["events"] = _events(files["a.log"], d / "edge-events.jsonl")
    files["pcap"] = write(d / "edge.pcap", conversation("203.0.113.7", "192.0.2.80", [CLEAN, BAD]))
    files["keys"] = d / "keys"
    files["keys"].write_text(f"k1 {SECRET_B64}\n", encoding="ascii")
    return files


ORDER = ("a.log", "b.log", "events", "c.log", "pcap")
GROUPS = (("a.log", "b.log"), ("events", "c.log"), ("pcap",))


def _run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    code = main([*map(str, args)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.fixture
def partials(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> list[Path]:
    out = []
    for n, group in enumerate(GROUPS):
        p = tmp_path / f"part{n}.json"
        _run(capsys, "--asn-table", inputs["table"], "--no-progress", "--partial", p,
             *(inputs[k] for k in group))  # fmt: skip
        out.append(p)
    return out


@pytest.mark.parametrize("output", ["text", "json", "html", "keys"])
def test_merged_partials_equal_one_run_byte_for_byte(
    inputs: dict[str, Path],
    partials: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    output: str,
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")
    opts: list[str | Path] = {
        "text": ["--top", "7"],
        "json": ["--json", "--alpha", "0.01"],
        "html": ["--html", tmp_path / "out.html"],
        "keys": ["--json", "--keys", inputs["keys"]],
    }[output]
    direct = _run(capsys, "--asn-table", inputs["table"], "--no-progress", *opts,
                  *(inputs[k] for k in ORDER))  # fmt: skip
    direct_html = (tmp_path / "out.html").read_bytes() if output == "html" else b""
    merged = _run(capsys, "merge", "--no-progress", *opts, *partials)
    assert merged == direct
    if output == "html":
        assert (tmp_path / "out.html").read_bytes() == direct_html
        assert b"AS" + str(SEED_ASN).encode() in direct_html
    if output == "json" or output == "keys":
        doc = json.loads(direct)
        assert doc["totals"]["flagged"] == [SEED_ASN]
        assert [i["kind"] for i in doc["inputs"]] == [
            "nginx-combined", "nginx-combined", "events", "nginx-combined", "pcap"
        ]  # fmt: skip
        assert doc["unmatched_events"]["count"] == 2 and doc["captures"]["events"]
        assert doc["inputs"][3]["malformed"] == 2
    if output == "keys":
        assert json.loads(direct)["recovery"]["recovered"] == 13


def test_partials_merge_in_steps(
    partials: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """merge --partial sums partials into one: a fleet can be merged per site, then all."""
    both = tmp_path / "both.json"
    _run(capsys, "merge", "--partial", both, partials[0], partials[1])
    one = _run(capsys, "merge", "--json", both, partials[2])
    other = _run(capsys, "merge", "--json", *partials)
    assert _no_time(one) == _no_time(other)


def _no_time(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    del doc["generated_at"]
    return doc


def test_a_partial_is_per_network_and_names_its_table(partials: list[Path]) -> None:
    doc = json.loads(partials[0].read_text(encoding="utf-8"))
    assert doc["schema"] == SCHEMA and len(doc["table"]["sha256"]) == 64
    assert doc["table"]["name"] == "t.tsv"
    assert sum(n for _, n in doc["requests"]) == 12_000
    assert all(c["asn"] == SEED_ASN for c in doc["corrupted"])
    assert len(doc["corrupted"]) == 13
    assert partials[0].stat().st_mode & 0o777 == 0o600
    assert "addr" not in json.dumps(doc["requests"])  # counts per AS, no client addresses


def test_partials_of_different_tables_are_refused(
    inputs: dict[str, Path],
    partials: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = tmp_path / "other.tsv"
    write_iptoasn(make_networks(20, seed=9), other)
    for table in (["--asn-table", str(other)], []):
        p = tmp_path / "p.json"
        _run(capsys, *table, "--no-progress", "--partial", p, inputs["c.log"])
        assert main(["merge", str(partials[0]), str(p)]) == 2
        err = capsys.readouterr().err
        assert "same --asn-table" in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "not JSON"),
        (b'{"schema": "edgeward.dpi-report-partial/1", "table": nu', "not JSON"),
        (b'{"schema": "edgeward.dpi-report/1"}', "a report (--json), not a partial"),
        (b'{"schema": "edgeward.dpi-report-partial/2"}', "this dpi-report reads"),
        (b"[1, 2]", "not a partial"),
        (b'{"schema": "edgeward.dpi-report-partial/1"}', "table is missing"),
        (b"\x1f\x8b\x08\x00garbage", "not JSON"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_a_bad_partial_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, says: str
) -> None:
    p = tmp_path / "p.json"
    p.write_bytes(content)
    assert main(["merge", str(p)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and str(p) in err, err


def test_a_truncated_partial_is_refused(
    partials: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = partials[0].read_bytes()
    for cut in (1, len(data) // 3, len(data) - 3):
        p = tmp_path / "cut.json"
        p.write_bytes(data[:cut])
        assert main(["merge", str(p)]) == 2
        assert "not JSON" in capsys.readouterr().err


def test_partial_refuses_keys_and_its_own_input(
    inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--partial", "p.json", "--keys", str(inputs["keys"]), str(inputs["c.log"])]) == 2
    assert "give it to `dpi-report merge`" in capsys.readouterr().err
    assert main(["--partial", str(inputs["c.log"]), str(inputs["c.log"])]) == 2
    assert "is also an input" in capsys.readouterr().err


# --- the reader, fuzzed -----------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_any_bytes_are_a_partial_or_one_partial_error(data: bytes) -> None:
    try:
        parse_partial(data, "fuzz.json")
    except PartialError as exc:
        message = str(exc)
        assert message.startswith("fuzz.json") and "\n" not in message


@pytest.fixture(scope="module")
def valid(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    p = tmp_path_factory.mktemp("valid") / "p.json"
    assert main(["--asn-table", str(inputs["table"]), "--no-progress", "--partial", str(p),
                 *(str(inputs[k]) for k in ORDER)]) == 0  # fmt: skip
    doc: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    doc["requests"] = doc["requests"][:5]  # small: hypothesis runs it many times
    doc["corrupted"] = [doc["corrupted"][0], *(c for c in doc["corrupted"] if c["capture"])]
    return doc


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [path] + [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


@settings(max_examples=300)
@given(data=st.data())
def test_a_changed_partial_is_refused_or_gives_a_report(
    valid: dict[str, Any], data: st.DataObject
) -> None:
    """Any one value of a real partial replaced by any JSON value: one PartialError, or a
    partial whose report renders in every format (never a traceback)."""
    doc = copy.deepcopy(valid)
    paths = _leaves(doc)
    path = data.draw(st.sampled_from(paths[1:]))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = data.draw(_JSON)
    text = json.dumps(doc)
    try:
        partial = parse_partial(text.encode(), "p.json")
    except PartialError as exc:
        message = str(exc)
        assert message.startswith("p.json") and "\n" not in message
        return
    report = report_of(partial.counts)
    render_json(report)
    render_html(report)
    render_text(report, Console(file=open("/dev/null", "w"), width=100))  # noqa: SIM115
    assert to_dict(partial)["schema"] == SCHEMA
