"""How every output of ``dpi-report`` writes a count (its own module: the log lines of a
plain run need it without the renderers and their imports)."""

from __future__ import annotations


def count(n: int) -> str:
    """Every count in every output: thousands separated by commas."""
    return f"{n:,}"
