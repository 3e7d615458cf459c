"""What captures show below dpi-report's table and in its HTML page, on a report built from
a capture written with dpkt's writer."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from middleware.report.build import Report, build_report
from middleware.report.inputs import Collected, read_file
from middleware.report.render_capture import MAX_ROWS, render_capture_html, render_capture_text
from tests.support.pcapgen import conversation, write

C4, S4 = "203.0.113.7", "192.0.2.80"
CLEAN = b"GET /index.html HTTP/1.1\r\nHost: shop.example\r\n\r\n"
BAD = b"GET /media/IMG_\x80\x01.jpg?w=640 HTTP/1.1\r\nHost: shop.example\r\n\r\n"


def _report(tmp_path: Path, requests: list[bytes]) -> Report:
    collected = Collected()
    read_file(write(tmp_path / "in.pcap", conversation(C4, S4, requests)), collected)
    return build_report(collected, None)


def _text(report: Report) -> str:
    out = io.StringIO()
    render_capture_text(report, Console(file=out, width=250, color_system=None))
    return out.getvalue()


def test_text_shows_the_capture_and_its_corrupted_request(tmp_path: Path) -> None:
    report = _report(tmp_path, [CLEAN, BAD])
    assert len(report.captured) == 1
    text = _text(report)
    first = text.splitlines()[0]
    assert first.startswith(f"{tmp_path / 'in.pcap'}: pcap, ")
    assert "2 requests" in first and "1 connections (1 HTTP/1" in first
    assert "What the captures show" in text
    (row,) = [line for line in text.splitlines() if C4 in line]
    ev = report.captured[0].capture
    assert ev is not None
    assert f"{ev.frame} of {', '.join(map(str, ev.frames))}" in row
    assert ev.checksum in row and str(ev.ttl) in row


def test_html_escapes_and_shows_the_target(tmp_path: Path) -> None:
    page = render_capture_html(_report(tmp_path, [BAD]))
    assert page.startswith("<h2>What the captures show</h2>")
    assert "<code>/media/IMG_\\x80\\x01.jpg?w=640</code>" in page
    assert page.count("<tr><td>") == 1


def test_a_clean_capture_prints_its_counts_only(tmp_path: Path) -> None:
    report = _report(tmp_path, [CLEAN])
    text = _text(report)
    assert "1 requests" in text and "What the captures show" not in text
    assert "<tr><td>" not in render_capture_html(report)


def test_without_a_capture_nothing_is_printed() -> None:
    report = build_report(Collected(), None)
    assert _text(report) == "" and render_capture_html(report) == ""


@pytest.mark.parametrize("extra", [0, 3])
def test_rows_are_capped(tmp_path: Path, extra: int) -> None:
    report = _report(tmp_path, [BAD])
    report.captured = report.captured * (MAX_ROWS + extra)
    text, page = _text(report), render_capture_html(report)
    assert page.count("<tr><td>") == MAX_ROWS
    assert (f"({extra} more; --json lists all)" in text) is bool(extra)
    assert (f"({extra} more; --json lists all)" in page) is bool(extra)
