"""Authenticated discovery, step by step as Apple clients walk it (RFC 4791, RFC 5397).

``PROPFIND <typed path>`` for ``current-user-principal`` → ``PROPFIND <principal>`` for
``calendar-home-set`` → ``PROPFIND <home>`` ``Depth: 1`` for the calendars; and ``OPTIONS``
on the principal, whose ``DAV:`` header must announce ``calendar-access`` (iOS gives up
otherwise). Each step is its own check so that the first broken link is the one named.
"""

from __future__ import annotations

import urllib.parse

import httpx

from caldav_gateway.doctor.dav import (
    CALDAV,
    DAV,
    DavError,
    Resource,
    parse_multistatus,
    propfind_body,
)
from caldav_gateway.doctor.probe_checks import propfind
from caldav_gateway.doctor.report import Check, failed, passed
from caldav_gateway.doctor.target import Target

_BAD_LOGIN_FIX = (
    "check --user and --password-file against the gateway's --htpasswd file (the server "
    "answered 401 to them; the password is never printed)"
)


def _path(href: str) -> str:
    return urllib.parse.urlsplit(href).path or "/"


def _step(
    authed: httpx.Client, path: str, props: list[tuple[str, str]], depth: str = "0"
) -> tuple[list[Resource] | None, str]:
    try:
        r = propfind(authed, path, propfind_body(props), depth=depth)
    except httpx.HTTPError as exc:
        return None, f"PROPFIND {path}: no answer ({exc})"
    if r.status_code != 207:
        return None, f"PROPFIND {path} → {r.status_code}"
    try:
        return parse_multistatus(r.content), ""
    except DavError as exc:
        return None, f"PROPFIND {path}: {exc}"


def check_discovery(target: Target, authed: httpx.Client | None) -> list[Check]:
    steps = [
        ("discovery.principal", "current-user-principal"),
        ("discovery.home", "calendar-home-set"),
        ("discovery.calendars", "calendars listed"),
        ("discovery.options", "OPTIONS on the principal"),
    ]
    if authed is None:
        why = "TLS not trusted: the password is not sent over this connection"
        return [Check(cid, title, "skip", why) for cid, title in steps]
    out: list[Check] = []

    def stop(at: int, detail: str, fix: str) -> list[Check]:
        cid, title = steps[at]
        out.append(failed(cid, title, detail, fix))
        out.extend(Check(c, t, "skip", f"needs {steps[at][1]}") for c, t in steps[at + 1 :])
        return out

    found, err = _step(authed, target.path, [(DAV, "current-user-principal")])
    principal = next((r.href_of(DAV, "current-user-principal") for r in found or []), None)
    if principal is None:
        if err.endswith("→ 401"):
            refused = f"the password for {target.user!r} was refused ({err})"
            return stop(0, refused, _BAD_LOGIN_FIX)
        fix = "pass / to Radicale (it answers current-user-principal)"
        return stop(0, err or "no current-user-principal in the answer", fix)
    principal = _path(principal)
    out.append(passed(*steps[0], f"{target.path} → {principal}"))

    found, err = _step(authed, principal, [(CALDAV, "calendar-home-set")])
    home = next((r.href_of(CALDAV, "calendar-home-set") for r in found or []), None)
    if home is None:
        return stop(
            1,
            err or f"{principal} has no calendar-home-set",
            "pass the principal paths of real users to Radicale (check the gateway's user list)",
        )
    home = _path(home)
    out.append(passed(*steps[1], f"{principal} → {home}"))

    found, err = _step(authed, home, [(DAV, "resourcetype"), (DAV, "displayname")], depth="1")
    if found is None:
        return stop(2, err, "pass the calendar home to Radicale")
    out.append(_calendars_check(steps[2], home, found))
    out.append(_options_check(steps[3], authed, principal))
    return out


def _calendars_check(step: tuple[str, str], home: str, found: list[Resource]) -> Check:
    calendars = [
        r.text_of(DAV, "displayname") or _path(r.href)
        for r in found
        if f"{{{CALDAV}}}calendar" in r.resource_types()
    ]
    if calendars:
        return passed(*step, f"{len(calendars)}: " + ", ".join(sorted(calendars)))
    return Check(
        *step,
        "warn",
        f"{home} holds no calendar yet",
        "create one from a client (or MKCALENDAR); discovery itself works",
    )


def _options_check(step: tuple[str, str], authed: httpx.Client, principal: str) -> Check:
    try:
        r = authed.request("OPTIONS", principal)
    except httpx.HTTPError as exc:
        return failed(*step, f"no answer ({exc})", "pass OPTIONS on principals to Radicale")
    dav = r.headers.get("dav", "")
    tokens = {t.strip().lower() for t in dav.split(",")}
    if r.status_code < 300 and "calendar-access" in tokens and r.headers.get("allow"):
        return passed(*step, f"{r.status_code}, DAV: {dav}")
    return failed(
        *step,
        f"{r.status_code}, DAV: {dav or 'absent'}, Allow: {r.headers.get('allow', 'absent')}",
        "OPTIONS on the principal must reach Radicale, which sends "
        "DAV: ... calendar-access and Allow:",
    )
