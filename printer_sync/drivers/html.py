"""Reading web UI pages the way a browser would: html5lib, forms and their inputs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

import html5lib

_FINGERPRINT = re.compile(r"\b(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}\b")


@dataclass(frozen=True)
class Form:
    action: str
    method: str
    hidden: dict[str, str] = field(default_factory=dict)
    fields: frozenset[str] = frozenset()  # every named input/select
    selects: dict[str, tuple[str | None, tuple[str, ...]]] = field(default_factory=dict)
    # select (or radio group) name -> (selected value, enabled option values)
    id: str = ""


def parse(text: str) -> Element:
    doc: Element = html5lib.parse(text, namespaceHTMLElements=False)
    return doc


def forms(doc: Element) -> list[Form]:
    out = []
    for f in doc.iter("form"):
        hidden: dict[str, str] = {}
        names: set[str] = set()
        selects: dict[str, tuple[str | None, tuple[str, ...]]] = {}
        for el in f.iter():
            name = el.get("name")
            if not name:
                continue
            if el.tag == "input":
                names.add(name)
                kind = (el.get("type") or "").lower()
                if kind == "hidden":
                    hidden[name] = el.get("value") or ""
                elif kind == "radio":
                    # A radio group is a choice like a select: (checked, enabled values).
                    chosen, enabled = selects.get(name, (None, ()))
                    value = el.get("value") or ""
                    if el.get("checked") is not None:
                        chosen = value
                    if el.get("disabled") is None:
                        enabled = (*enabled, value)
                    selects[name] = (chosen, enabled)
            elif el.tag == "select":
                names.add(name)
                options = [o for o in el.iter("option")]
                enabled = tuple(o.get("value") or "" for o in options if o.get("disabled") is None)
                chosen = next(
                    (o.get("value") for o in options if o.get("selected") is not None), None
                )
                selects[name] = (chosen, enabled)
            elif el.tag == "textarea":
                names.add(name)
        out.append(
            Form(
                action=f.get("action") or "",
                id=f.get("id") or "",
                method=(f.get("method") or "get").lower(),
                hidden=hidden,
                fields=frozenset(names),
                selects=selects,
            )
        )
    return out


def visible_text(doc: Element) -> str:
    """The page's text without scripts and styles, whitespace collapsed."""
    parts: list[str] = []

    def walk(el: Element) -> None:
        if el.tag in ("script", "style"):
            return
        if el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(doc)
    return " ".join(" ".join(parts).split())


def fingerprints(text: str) -> frozenset[str]:
    return frozenset(m.upper() for m in _FINGERPRINT.findall(text))
