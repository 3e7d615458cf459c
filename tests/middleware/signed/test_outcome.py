"""One vocabulary for both signed-URL schemes: results, their HTTP status and reason, the
body a client is shown, and the verdict object the schemes return."""

from __future__ import annotations

import typing

import pytest

from middleware.corruption.classify import Finding
from middleware.signed.outcome import (
    BODY,
    REASON,
    RESULTS,
    STATUS,
    Result,
    SignedURL,
    Verdict,
)


def test_results_are_the_literal_type_in_order() -> None:
    assert typing.get_args(Result) == RESULTS
    assert len(set(RESULTS)) == 7


@pytest.mark.parametrize(
    ("result", "status", "ok"),
    [
        ("valid", 200, True),
        ("missing", 403, False),
        ("malformed", 403, False),
        ("bad_signature", 403, False),
        ("unknown_key", 403, False),
        ("expired", 410, False),  # gone for good: a browser and a crawler stop asking
        ("corrupted", 400, False),  # damaged in transit: a retry may pass
    ],
)
def test_each_result_has_its_status(result: Result, status: int, ok: bool) -> None:
    verdict = Verdict(result)
    assert (verdict.status, verdict.ok) == (status, ok)
    assert verdict.reason == REASON[result] and verdict.reason
    if not ok:
        assert BODY[status]  # every refusal has a body to show


def test_every_table_covers_every_result() -> None:
    assert set(STATUS) == set(REASON) == set(RESULTS)
    assert set(BODY) == {s for r, s in STATUS.items() if r != "valid"}
    assert len(set(REASON.values())) == len(RESULTS)  # the reasons tell results apart


def test_a_verdict_keeps_what_was_read() -> None:
    finding = Finding("dpi_signature", 3, "2f8001", False)
    verdict = Verdict("corrupted", b"/m/x", "k1", 1795750515, finding)
    assert (verdict.target, verdict.kid, verdict.exp, verdict.finding) == (
        b"/m/x", "k1", 1795750515, finding,
    )  # fmt: skip
    assert repr(verdict) == "Verdict('corrupted', kid='k1', exp=1795750515)"
    assert Verdict("missing").target == b"" and Verdict("missing").finding is None
    with pytest.raises(AttributeError):
        verdict.other = 1  # type: ignore[attr-defined]  (slotted: one per request)


def test_signed_url_is_an_immutable_tuple() -> None:
    info = SignedURL("native", "k1", None)
    assert (info.scheme, info.kid, info.exp) == ("native", "k1", None)
    with pytest.raises(AttributeError):
        info.kid = "k2"  # type: ignore[misc]
