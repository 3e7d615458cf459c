"""dpi-report with captures: mixed with logs, the text evidence, errors, --help, progress."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from middleware.capture import read_capture
from middleware.cli.dpi_report import main
from tests.support.pcapgen import conversation, write

C4, S4 = "203.0.113.7", "192.0.2.80"
BAD = b"GET /media/IMG_\x80\x01.jpg HTTP/1.1\r\nHost: x\r\n\r\n"
CLEAN = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
LOG = b'198.51.100.1 - - [27/Nov/2026:03:35:15 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'


def test_a_capture_mixed_with_a_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pcap = write(tmp_path / "edge.pcap.gz", conversation(C4, S4, [CLEAN, BAD]), gz=True)
    log = tmp_path / "access.log"
    log.write_bytes(LOG * 3)
    assert main(["--json", "--no-progress", str(log), str(pcap)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(i["kind"], i["lines"]) for i in doc["inputs"]] == [("nginx-combined", 3), ("pcap", 2)]
    assert (doc["totals"]["requests"], doc["totals"]["corrupted"]) == (5, 1)
    (event,) = doc["captures"]["events"]
    assert (event["client"], event["target"], event["frame"]) == (
        C4,
        "/media/IMG_\\x80\\x01.jpg",
        5,
    )
    assert doc["captures"]["inputs"][0]["gzipped"] is True


def test_the_text_report_shows_the_evidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pcap = write(tmp_path / "edge.pcapng", conversation(C4, S4, [BAD], ttl=49), fmt="pcapng")
    assert main(["--no-progress", str(pcap)]) == 0
    out = capsys.readouterr().out
    assert "What the captures show" in out
    assert f"{C4}:40000" in out and "49×2" in out and "valid" in out  # SYN and FIN at TTL 49


def test_the_html_page_shows_the_evidence(tmp_path: Path) -> None:
    pcap = write(tmp_path / "edge.pcap", conversation(C4, S4, [CLEAN, BAD], ttl=49))
    out = tmp_path / "r.html"
    assert main(["--no-progress", "--html", str(out), str(pcap)]) == 0
    page = out.read_text()
    assert "What the captures show" in page
    assert "<td>5 of 5</td>" in page and "/media/IMG_\\x80\\x01.jpg" in page


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xd4\xc3\xb2\xa1" + bytes(8), "not a readable pcap file"),
        (b"\x0a\x0d\x0d\x0a" + bytes(40), "not a readable pcapng file"),
        (b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(12) + b"\x7f\x00\x00\x00", "link type 127"),
    ],
)
def test_an_unreadable_capture_is_one_line_and_exit_2(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    proc = subprocess.run(
        [sys.executable, "-m", "middleware.cli.dpi_report", "--no-progress", str(path)],
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_help_says_how_to_capture() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "middleware.cli.dpi_report", "--help"],
        capture_output=True,
        text=True,
        timeout=150,  # a loaded machine once took >60 s to import dpi-report
    )
    assert "tcpdump -i any -s 0 -w FILE 'tcp port 80'" in proc.stdout
    assert "-C 100 -W 20" in proc.stdout and "captures{inputs" in proc.stdout


def test_progress_counts_every_byte_of_the_file(tmp_path: Path) -> None:
    packets = conversation(C4, S4, [CLEAN] * 3000)
    for gz in (False, True):
        path = write(tmp_path / f"big{gz}.pcap", packets, gz=gz)
        seen: list[int] = []
        result = read_capture(path, advance=seen.append)
        assert result.stats.requests == 3000
        assert len(seen) >= 2 and all(n >= 0 for n in seen)
        assert sum(seen) == path.stat().st_size


def test_events_are_matched_against_a_capture_like_log_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The capture holds its requests: its corrupted request is counted, an event repeating
    it is counted once, an event before the capture's frames is set apart."""
    t0 = 1_700_000_000.0
    pcap = write(tmp_path / "edge.pcap", conversation(C4, S4, [CLEAN, BAD], t0=t0))
    (captured,) = read_capture(pcap).events
    same = {"time": t0 + 0.002, "client": C4, "kind": captured.finding.kind, "source": "asgi"}
    before = same | {"time": t0 - 86400, "client": "198.51.100.9"}
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in (same, before)))
    assert main(["--json", "--no-progress", str(pcap), str(events)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["totals"]["requests"], doc["totals"]["corrupted"]) == (2, 1)
    assert doc["unmatched_events"]["reasons"] == {"before_logs": 1}
    assert (doc["inputs"][0]["first"], doc["inputs"][0]["last"]) == (
        "2023-11-14T22:13:20Z",
        "2023-11-14T22:13:20Z",
    )
    assert doc["spans"]["logs"] == {"first": "2023-11-14T22:13:20Z", "last": "2023-11-14T22:13:20Z"}
