"""Fuzzing the readers of Epson Web Config answers (issue 11, must show).

Whatever a printer sends, the parsers return a result or raise their documented error
(:class:`~printer_sync.errors.PushError`), never anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from printer_sync.drivers import html
from printer_sync.drivers.epson import SELECT, TOKEN, EpsonDriver, certificate_choice, pick_form
from printer_sync.errors import ErrorKind, PushError

T = TypeVar("T")

# Pieces real pages and broken or hostile ones are made of.
PIECES = [
    "<form>",
    "<form id='input_form' method='post' action='/X'>",
    "</form>",
    f"<input type='hidden' name='{TOKEN}' value='t0k3n'>",
    f"<input type='hidden' name='{TOKEN}' value=''>",
    f"<input type='hidden' name='{TOKEN}'>",
    "<input type='password' name='INPUTT_PASSWORD' value=''>",
    f"<select name='{SELECT}'>",
    "</select>",
    "<option value='SELF-SIGNED_CERT' selected>",
    "<option value='CA-SIGNED_CERT' disabled>",
    "<option selected>",
    f"<input type='radio' name='{SELECT}' value='CA-SIGNED_CERT' checked>",
    f"<input type='radio' name='{SELECT}' disabled>",
    f"<input type='text' name='{SELECT}' value='x'>",
    "<input type='file' name='cert0' value=''>",
    "<input name='' value='x'>",
    "<textarea name='t'>",
    "<script>Shutting down</script>",
    "Shutting down",
    "Setup complete",
    "Try again later.",
    "AB:" * 31 + "CD",
    "<p class='message'>",
    "\x00",
    "<!--",
    "&#0;",
    "<a",
]
pages = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=20)), max_size=40).map("".join)
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(call: Callable[[], T]) -> T | PushError:
    """The result of ``call``, or the PushError it raised (anything else propagates)."""
    try:
        return call()
    except PushError as exc:
        return exc


@FUZZ
@given(pages)
def test_pick_form_returns_a_tokened_form_or_a_push_error(text: str) -> None:
    form = outcome(lambda: pick_form(text, "TOP", need=(SELECT,)))
    if isinstance(form, PushError):
        assert form.kind in (ErrorKind.UNEXPECTED_ANSWER, ErrorKind.MISSING_TOKEN)
        return
    assert form.hidden[TOKEN] and SELECT in form.fields
    choice = outcome(lambda: certificate_choice(form))
    if isinstance(choice, PushError):
        assert choice.kind is ErrorKind.UNEXPECTED_ANSWER
        return
    chosen, enabled = choice
    assert chosen is None or isinstance(chosen, str)
    assert all(isinstance(v, str) for v in enabled)


@FUZZ
@given(pages)
def test_an_answer_is_a_reboot_an_applied_change_or_a_refusal(text: str) -> None:
    reboots = outcome(lambda: EpsonDriver._answer(text, "upload", ErrorKind.UPLOAD_REFUSED))
    if isinstance(reboots, PushError):
        assert reboots.kind is ErrorKind.UPLOAD_REFUSED
        assert "upload: the printer refused it" in reboots.message
        return
    assert reboots is ("Shutting down" in text)


@FUZZ
@given(pages)
def test_text_and_fingerprints_of_any_page(text: str) -> None:
    doc = html.parse(text)
    assert isinstance(html.visible_text(doc), str)
    assert all(len(fp) == 95 for fp in html.fingerprints(html.visible_text(doc)))
    assert all(isinstance(f, html.Form) for f in html.forms(doc))


@pytest.mark.parametrize(
    ("control", "chosen", "enabled"),
    [
        (  # the select the emulator and the scripts' printers show
            f"<select name='{SELECT}'><option value='SELF-SIGNED_CERT' selected>"
            "<option value='CA-SIGNED_CERT' disabled></select>",
            "SELF-SIGNED_CERT",
            ("SELF-SIGNED_CERT",),
        ),
        (  # radio buttons, as other firmware draws the same choice
            f"<input type='radio' name='{SELECT}' value='SELF-SIGNED_CERT'>"
            f"<input type='radio' name='{SELECT}' value='CA-SIGNED_CERT' checked>",
            "CA-SIGNED_CERT",
            ("SELF-SIGNED_CERT", "CA-SIGNED_CERT"),
        ),
    ],
    ids=["select", "radio"],
)
def test_certificate_choice_reads_selects_and_radios(
    control: str, chosen: str, enabled: tuple[str, ...]
) -> None:
    page = f"<form id='input_form'><input type='hidden' name='{TOKEN}' value='t'>{control}</form>"
    assert certificate_choice(pick_form(page, "TOP", need=(SELECT,))) == (chosen, enabled)


PAGE = """<html><body>
<form action="/x" method="POST">
  <input type="hidden" name="INPUTT_SETUPTOKEN" value="t0k">
  <input type="hidden" name="EMPTY">
  <input type="file" name="key">
  <select name="SEL"><option value="A">a</option><option value="B" selected>b</option>
    <option value="C" disabled>c</option></select>
</form>
<form><input name="q"></form>
<script>var x = "Shutting down";</script><p>Hello   <b>there</b></p>
</body></html>"""


def test_forms_and_text() -> None:
    doc = html.parse(PAGE)
    first, second = html.forms(doc)
    assert (first.action, first.method) == ("/x", "post")
    assert first.hidden == {"INPUTT_SETUPTOKEN": "t0k", "EMPTY": ""}
    assert first.fields == {"INPUTT_SETUPTOKEN", "EMPTY", "key", "SEL"}
    assert first.selects["SEL"] == ("B", ("A", "B"))
    assert second.method == "get" and second.hidden == {}
    text = html.visible_text(doc)
    assert "Hello there" in text and "Shutting down" not in text  # scripts are not text


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("AB:" * 31 + "CD", {"AB:" * 31 + "CD"}),
        ("ab:" * 31 + "cd and more", {"AB:" * 31 + "CD"}),
        ("AB:" * 30 + "CD", set()),  # 31 bytes: not SHA-256
    ],
)
def test_fingerprints_in_text(text: str, found: set[str]) -> None:
    assert html.fingerprints(text) == found
