"""The gateway's ASGI stack, outermost first.

:class:`~caldav_gateway.instrument.RequestMetrics` → :class:`~caldav_gateway.policy.ProbePolicy`
→ :class:`~caldav_gateway.body_guard.BodyGuard` → :class:`~caldav_gateway.throttle.LoginThrottle`
→ Radicale. The policy sits outside the
throttle so that probe paths get their 404 even from a throttled address (never a 401, never
a 429 on a path the client has no business on).
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.types import ASGIApp

from caldav_gateway.body_guard import BodyGuard
from caldav_gateway.instrument import RequestMetrics
from caldav_gateway.links import ProfileLinks
from caldav_gateway.policy import ProbePolicy
from caldav_gateway.principals import HtpasswdPrincipals, Principals, StaticPrincipals
from caldav_gateway.radicale_app import radicale_asgi
from caldav_gateway.settings import GatewaySettings
from caldav_gateway.throttle import LoginThrottle


def required_paths(settings: GatewaySettings) -> tuple[Path, Path]:
    assert settings.htpasswd is not None and settings.collections is not None  # __post_init__
    return settings.htpasswd, settings.collections


def principals_of(settings: GatewaySettings) -> Principals:
    htpasswd, _ = required_paths(settings)
    if settings.principals:
        return StaticPrincipals(settings.principals)
    return HtpasswdPrincipals(htpasswd)


def build_app(settings: GatewaySettings, *, radicale_log_level: int = logging.ERROR) -> ASGIApp:
    htpasswd, collections = required_paths(settings)
    app: ASGIApp = radicale_asgi(
        htpasswd=htpasswd,
        collections=collections,
        web=settings.web,
        realm=settings.realm,
        log_level=radicale_log_level,
    )
    app = LoginThrottle(app, settings=settings.throttle, realm=settings.realm)
    # Outside the throttle: a slow upload must not hold one of its password-check slots.
    app = BodyGuard(
        app,
        max_body=settings.max_body,
        max_xml_depth=settings.max_xml_depth,
        max_xml_body=settings.max_xml_body,
    )
    app = ProbePolicy(
        app, principals=principals_of(settings), mode=settings.policy, web=settings.web
    )
    app = ProfileLinks(app, collections)  # signed /.profile/ links only; see links.py
    return RequestMetrics(app)
