"""No function in the five packages is longer than 80 lines (issue 14).

A long function hides the steps it runs; split it into named ones.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("edgeward", "middleware", "caldav_gateway", "printer_sync", "vpn_provision")
LIMIT = 80


def function_lengths() -> list[tuple[int, str]]:
    rows = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    assert node.end_lineno is not None
                    length = node.end_lineno - node.lineno + 1
                    rows.append((length, f"{path.relative_to(ROOT)}:{node.name}"))
    return sorted(rows, reverse=True)


def test_the_lengths_are_measured() -> None:
    rows = function_lengths()
    assert len(rows) > 500  # the packages were found
    assert all(length >= 1 for length, _ in rows)


def test_no_function_is_longer_than_80_lines() -> None:
    too_long = [f"{name} ({n} lines)" for n, name in function_lengths() if n > LIMIT]
    assert too_long == []
