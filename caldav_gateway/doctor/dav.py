"""The few WebDAV/CalDAV bits the doctor speaks: PROPFIND bodies and 207 parsing.

Responses come from the server being checked, so they are parsed with ``defusedxml``
(no entity expansion, no external entities) and any parse error becomes a failed check
rather than a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
_PREFIX = {DAV: "D", CALDAV: "C"}


class DavError(ValueError):
    """The server's answer is not the multistatus the protocol requires."""


def qname(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def propfind_body(props: Sequence[tuple[str, str]]) -> bytes:
    """``<D:propfind>`` asking for ``props`` given as ``(namespace, local name)`` pairs."""
    inner = "".join(f"<{_PREFIX[ns]}:{name}/>" for ns, name in props)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<D:propfind xmlns:D="{DAV}" xmlns:C="{CALDAV}"><D:prop>{inner}</D:prop></D:propfind>'
    ).encode()


@dataclass
class Resource:
    """One ``<D:response>``: its href and the properties the server found (status 200)."""

    href: str
    props: dict[str, Element] = field(default_factory=dict)

    def href_of(self, ns: str, name: str) -> str | None:
        """The ``<D:href>`` inside a property such as ``current-user-principal``."""
        prop = self.props.get(qname(ns, name))
        if prop is None:
            return None
        href = prop.find(qname(DAV, "href"))
        return href.text.strip() if href is not None and href.text else None

    def resource_types(self) -> set[str]:
        prop = self.props.get(qname(DAV, "resourcetype"))
        return {child.tag for child in prop} if prop is not None else set()

    def text_of(self, ns: str, name: str) -> str | None:
        prop = self.props.get(qname(ns, name))
        return prop.text if prop is not None else None


def parse_multistatus(body: bytes) -> list[Resource]:
    try:
        root: Any = fromstring(body)
    except ParseError as exc:
        raise DavError(f"the 207 body is not XML ({exc})") from None
    except DefusedXmlException as exc:
        raise DavError(f"the 207 body declares entities or a DTD, refused ({exc})") from None
    if root.tag != qname(DAV, "multistatus"):
        raise DavError(f"expected <D:multistatus>, got <{root.tag}>")
    out: list[Resource] = []
    for response in root.findall(qname(DAV, "response")):
        href = response.find(qname(DAV, "href"))
        res = Resource(href.text.strip() if href is not None and href.text else "")
        for propstat in response.findall(qname(DAV, "propstat")):
            status = propstat.find(qname(DAV, "status"))
            if status is None or " 200 " not in f"{status.text or ''} ":
                continue
            prop = propstat.find(qname(DAV, "prop"))
            for child in prop if prop is not None else []:
                res.props[child.tag] = child
        out.append(res)
    return out
