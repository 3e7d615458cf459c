"""Which client a log line is attributed to: the threat model, case by case."""

from __future__ import annotations

import pytest

from middleware.edge.nginx_log import LogRecord
from middleware.edge.realip import RealClient

TRUSTED = ["10.0.0.0/8", "127.0.0.1", "fd00::/8"]


@pytest.mark.parametrize(
    ("remote", "xff", "pp", "trusted", "client"),
    [
        ("8.8.8.8", "1.1.1.1", "", TRUSTED, "8.8.8.8"),  # untrusted peer: its header is ignored
        ("10.0.0.5", "1.1.1.1", "", [], "10.0.0.5"),  # nothing trusted by default
        ("10.0.0.5", "1.1.1.1", "", TRUSTED, "1.1.1.1"),
        ("10.0.0.5", "6.6.6.6, 1.1.1.1, 10.0.0.7", "", TRUSTED, "1.1.1.1"),  # right to left
        ("10.0.0.5", "10.0.0.8, 10.0.0.7", "", TRUSTED, "10.0.0.8"),  # all trusted: left-most
        ("10.0.0.5", "", "", TRUSTED, "10.0.0.5"),  # refused line: no header was read
        ("127.0.0.1", "", "121.6.1.2", TRUSTED, "121.6.1.2"),  # PROXY protocol first
        ("127.0.0.1", "1.1.1.1", "10.0.0.9", TRUSTED, "1.1.1.1"),  # PROXY from a trusted hop
        ("10.0.0.5", "junk, 1.1.1.1", "", TRUSTED, "1.1.1.1"),
        ("10.0.0.5", "1.1.1.1, junk", "", TRUSTED, "10.0.0.5"),  # stop at garbage
        ("fd00::1", "2001:db8::7", "", TRUSTED, "2001:db8::7"),
        ("10.0.0.5", "", "not-an-ip", TRUSTED, "10.0.0.5"),
    ],
)
def test_client_of(remote: str, xff: str, pp: str, trusted: list[str], client: str) -> None:
    record = LogRecord(remote, 0.0, b"GET / HTTP/1.1", 200, xff, pp)
    assert RealClient(trusted).client_of(record) == client


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "example.org", ""])
def test_bad_network_is_refused_with_its_text(bad: str) -> None:
    with pytest.raises(ValueError, match="not an IP address, a network"):
        RealClient([bad])
