"""Anonymous-side checks: the well-known redirect, the probe paths, the 401 on ``/``.

Apple clients send their first requests without credentials and probe many layouts
(Apple Calendar Server, Google, Baïkal, Nextcloud...). Every 401 on such a probe makes the
device ask for the password again, so each probe path must answer 404 to anonymous
PROPFIND and GET, and never 401 with credentials either (the gateway answers 404 then too;
a 403 does not prompt). ``/`` is the exception: RFC 6764 requires ``current-user-principal`` to
need authentication, so an anonymous PROPFIND there must be a Basic 401.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx

from caldav_gateway.doctor.dav import DAV, propfind_body
from caldav_gateway.doctor.report import Check, failed, passed
from caldav_gateway.doctor.target import Target

# The families observed in public logs (README, "doctor"); ``{user}`` is the
# user being checked, because clients build these paths from the account name.
PROBE_PATHS: tuple[str, ...] = (
    "/principals/",
    "/principals/users/{user}/",
    "/principals/__uids__/{user}/",
    "/dav/principals/",
    "/dav/",
    "/caldav/v2",
    "/caldav/v2/{user}/user",
    "/calendar/dav/{user}/user/",
    "/dav.php",
    "/dav.php/principals/{user}/",
    "/remote.php/dav/",
    "/remote.php/dav/principals/users/{user}/",
    "/favicon.ico",
)
REDIRECTS = (301, 303, 307)
_MINIMAL = propfind_body([(DAV, "resourcetype")])


def propfind(
    client: httpx.Client, path: str, body: bytes = _MINIMAL, *, depth: str = "0"
) -> httpx.Response:
    return client.request(
        "PROPFIND",
        path,
        content=body,
        headers={"Depth": depth, "Content-Type": "application/xml; charset=utf-8"},
    )


def probe_paths(user: str) -> list[str]:
    quoted = urllib.parse.quote(user, safe="@")
    return [p.format(user=quoted) for p in PROBE_PATHS]


def _check_probe(client: httpx.Client, authed: httpx.Client | None, path: str) -> Check:
    attempts = [("PROPFIND", "anonymous", client), ("GET", "anonymous", client)]
    if authed is not None:
        attempts.append(("PROPFIND", "with credentials", authed))
    seen: list[str] = []
    bad: list[str] = []
    for method, who, c in attempts:
        try:
            r = propfind(c, path) if method == "PROPFIND" else c.get(path)
        except httpx.HTTPError as exc:
            bad.append(f"{method} {who}: no answer ({exc.__class__.__name__})")
            continue
        seen.append(f"{method} {who} {r.status_code}")
        if r.status_code == 401:
            bad.append(f"{method} {who} → 401 (re-prompts the password)")
        elif r.status_code != 404 and c is client:
            bad.append(f"{method} {who} → {r.status_code}, expected 404")
    if not bad:
        return passed(f"probe {path}", "probe path", "; ".join(seen))
    return failed(
        f"probe {path}",
        "probe path",
        "; ".join(bad),
        "answer 404 (without WWW-Authenticate) for every path that is not / or a real "
        "principal: put caldav-gateway serve in front of Radicale on a dedicated IP:port, "
        "not Radicale directly or a shared vhost",
    )


def check_probes(target: Target, client: httpx.Client, authed: httpx.Client | None) -> list[Check]:
    paths = probe_paths(target.user)
    # Probes are independent; a server that delays 401s (Radicale does, ~1 s) would make
    # a sequential run slow, so they go out a few at a time.
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda p: _check_probe(client, authed, p), paths))


def check_well_known(target: Target, client: httpx.Client, authed: httpx.Client | None) -> Check:
    cid, title = "well-known", "/.well-known/caldav redirect"
    try:
        r = propfind(client, "/.well-known/caldav")
    except httpx.HTTPError as exc:
        return failed(cid, title, f"no answer ({exc})", "check that the server is reachable")
    location = r.headers.get("location")
    if r.status_code not in (*REDIRECTS, 302) or not location:
        return failed(
            cid,
            title,
            f"PROPFIND → {r.status_code}"
            + (" (401 re-prompts the password)" if r.status_code == 401 else ""),
            "answer /.well-known/caldav with 301 to / (RFC 6764), for every method, before "
            "authentication",
        )
    dest = urllib.parse.urljoin(target.origin + "/.well-known/caldav", location)
    parts = urllib.parse.urlsplit(dest)
    default_port = 443 if parts.scheme == "https" else 80
    if (parts.scheme, parts.hostname, parts.port or default_port) != (
        "https" if target.tls else "http",
        target.host,
        target.port,
    ):
        # Legal (RFC 6764 allows another server), but this run cannot vouch for it.
        return Check(
            cid,
            title,
            "warn",
            f"{r.status_code} to another server: {dest}",
            "run the doctor against that URL too; Apple clients follow it",
        )
    path = parts.path or "/"
    try:
        follow = propfind(authed or client, path)
    except httpx.HTTPError as exc:
        return failed(
            cid,
            title,
            f"{r.status_code} → {path}, which does not answer ({exc})",
            "redirect to the CalDAV root (usually /)",
        )
    # A 401 there is the CalDAV root asking for credentials (RFC 6764 wants exactly that
    # without them); with credentials it means the password was refused, which is the
    # login's fault, not the redirect's: discovery reports it.
    fine = {207, 401}
    detail = f"{r.status_code} → {path} → {follow.status_code}"
    if authed is not None and follow.status_code == 401:
        detail += " (credentials refused; see discovery)"
    if follow.status_code not in fine:
        return failed(
            cid, title, detail, "redirect to the CalDAV root that answers PROPFIND (usually /)"
        )
    if r.status_code == 302:
        return Check(
            cid, title, "warn", detail, "RFC 6764 asks for 301, 303 or 307; Apple copes with 302"
        )
    if "cache-control" not in r.headers:
        return Check(
            cid, title, "warn", detail, "add Cache-Control to the redirect (RFC 6764 SHOULD)"
        )
    return passed(cid, title, f"{detail}, Cache-Control: {r.headers['cache-control']}")


def check_root_challenge(target: Target, client: httpx.Client) -> Check:
    cid, title = "root-401", f"anonymous PROPFIND {target.path} challenges"
    try:
        r = propfind(client, target.path, propfind_body([(DAV, "current-user-principal")]))
    except httpx.HTTPError as exc:
        return failed(cid, title, f"no answer ({exc})", "check that the server is reachable")
    challenge = r.headers.get("www-authenticate", "")
    if (
        r.status_code == 401
        and challenge.lower().startswith("basic")
        and "realm=" in challenge.lower()
    ):
        return passed(cid, title, f"401, WWW-Authenticate: {challenge}")
    if r.status_code == 207:
        return failed(
            cid,
            title,
            "207 without credentials: discovery is anonymous",
            "enable authentication (htpasswd) in Radicale: RFC 6764 requires "
            "current-user-principal to need it, and Apple clients only send credentials "
            "after a 401",
        )
    return failed(
        cid,
        title,
        f"{r.status_code}, WWW-Authenticate: {challenge or 'absent'}",
        "pass / to Radicale so that it answers 401 with a Basic realm",
    )


def all_probe_checks(
    target: Target, client: httpx.Client, authed: httpx.Client | None
) -> Sequence[Check]:
    return [
        check_well_known(target, client, authed),
        check_root_challenge(target, client),
        *check_probes(target, client, authed),
    ]
