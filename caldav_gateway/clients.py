"""Which kind of client sent a request, from its User-Agent (a bounded metrics label).

Apple's daemons send ``<OS>/<version> (<build>) <daemon>/<version>``, e.g.
``iOS/18.1.1 (22B91) dataaccessd/1.0`` or ``Mac OS X/10.10.5 (14F27) CalendarAgent/316.1``;
versions and builds change with every release, so we classify by the OS word first and
fall back to daemon names that exist on one platform only.
"""

from __future__ import annotations

import re
from typing import Final, Literal

ClientFamily = Literal["ios", "macos", "other"]

_IOS_OS: Final = re.compile(r"\b(?:iOS|iPadOS|iPhone\s?OS|iPhone|iPad|watchOS|visionOS)\b", re.I)
_MAC_OS: Final = re.compile(r"\b(?:Mac[\s_]?OS(?:[\s_]?X)?|OS\s?X|Macintosh)\b", re.I)
# Daemons that only exist on one platform (accountsd and remindd exist on both).
_IOS_DAEMONS: Final = re.compile(r"\b(?:dataaccessd|DataAccess)\b", re.I)
_MAC_DAEMONS: Final = re.compile(r"\b(?:CalendarAgent|iCal|CalendarStore)\b", re.I)


def client_family(user_agent: str) -> ClientFamily:
    if _IOS_OS.search(user_agent):
        return "ios"
    if _MAC_OS.search(user_agent):
        return "macos"
    if _IOS_DAEMONS.search(user_agent):
        return "ios"
    if _MAC_DAEMONS.search(user_agent):
        return "macos"
    return "other"
