"""``caldav-gateway serve``: check the set-up, bind the port, run one worker or supervise N.

See :mod:`caldav_gateway.app` for the ASGI stack, :mod:`caldav_gateway.worker` for one
serving process and :mod:`caldav_gateway.supervisor` for ``--workers N``.
"""

from __future__ import annotations

import asyncio
import socket

from caldav_gateway import paths
from caldav_gateway.app import required_paths
from caldav_gateway.principals import read_htpasswd
from caldav_gateway.radicale_app import radicale_level_for
from caldav_gateway.settings import GatewaySettings
from caldav_gateway.supervisor import multiprocess_dir, supervise
from caldav_gateway.tls import load_pair
from caldav_gateway.worker import serve_worker
from edgeward.logs import get_logger
from edgeward.netaddr import format_hostport
from edgeward.serving import bind_tcp

log = get_logger("caldav_gateway.serve")

INSECURE_WARNING = (
    "serving plain HTTP (--insecure-http): recent iOS and macOS refuse to send Basic "
    "credentials over an insecure connection, so Apple devices will not log in; "
    "use this for local experiments only"
)


def check_startup(settings: GatewaySettings) -> list[str]:
    """Validate files (``ValueError`` on a fatal problem) and return the warnings to log."""
    htpasswd, collections = required_paths(settings)
    users = read_htpasswd(htpasswd)
    if users.problems:
        # Radicale refuses such a file when it starts (after "serving" would be logged),
        # with a message that names neither the line nor what is wrong in words.
        raise ValueError(f"{htpasswd}, {users.problems[0]}")
    names = set(settings.principals) if settings.principals else set(users.users)
    warnings: list[str] = []
    for name in paths.colliding_names(names):
        warnings.append(
            f"username {name!r} collides with the probe family /{name}/: "
            + (
                "Apple probes of that path will reach Radicale and may get 401"
                if settings.policy == "principals"
                else "the denylist policy answers 404 there, so this user cannot be served"
            )
        )
    if users.plain:
        warnings.append(
            f"{len(users.plain)} htpasswd entr{'y' if len(users.plain) == 1 else 'ies'} "
            "stored without a hash (plain text is for tests): use bcrypt (htpasswd -B)"
        )
    if not users.users:
        warnings.append(f"{htpasswd}: no users yet; every path but / answers 404")
    if settings.insecure_http:
        warnings.append(INSECURE_WARNING)
    else:
        assert settings.cert is not None and settings.key is not None
        load_pair(settings.cert, settings.key, settings.tls_min_version)  # CertificateError
    try:
        collections.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file of that name, no permission, a read-only disk
        raise ValueError(
            f"{collections}: cannot be the collections folder ({exc.strerror or exc})"
        ) from None
    return warnings


class ListenError(OSError):
    """A socket the gateway cannot bind; the message names the address (said once)."""


def bind(listen: str) -> socket.socket:
    try:
        sock = bind_tcp(listen)  # its OSError already says "cannot listen on HOST:PORT: ..."
    except OSError as exc:
        raise ListenError(str(exc)) from None
    sock.set_inheritable(True)  # --workers: forked workers accept on the same socket
    return sock


def bind_all(settings: GatewaySettings) -> tuple[socket.socket, socket.socket | None]:
    """The CalDAV socket and the /metrics one (None when off), both bound or neither."""
    sock = bind(settings.listen)
    if settings.metrics_listen in ("", "off"):
        return sock, None
    try:
        return sock, bind(settings.metrics_listen)
    except BaseException:
        sock.close()
        raise


def describe(settings: GatewaySettings, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    scheme = "http" if settings.insecure_http else "https"
    where = f"{scheme}://{format_hostport(host, port)}/"
    metrics = (
        "off"
        if settings.metrics_listen in ("", "off")
        else f"http://{settings.metrics_listen}/metrics"
    )
    return (
        f"serving CalDAV on {where} ({settings.workers} worker(s), policy {settings.policy}); "
        f"metrics {metrics}"
    )


def serve(settings: GatewaySettings, *, log_level: str = "info", log_format: str = "text") -> int:
    """Run the gateway until interrupted; returns the exit code."""
    for warning in check_startup(settings):
        log.warning(warning)
    # "serving" is said only once every socket is bound: a taken metrics port must not
    # follow a line that told the operator (or a supervisor watching the log) it was up.
    sock, metrics_sock = bind_all(settings)
    log.info(describe(settings, sock))
    if settings.workers == 1:
        level = radicale_level_for(log_level)
        asyncio.run(
            serve_worker(
                settings,
                sock,
                with_metrics=True,
                radicale_log_level=level,
                metrics_sock=metrics_sock,
            )
        )
        return 0
    with multiprocess_dir() as mpdir:
        return asyncio.run(
            supervise(settings, sock, mpdir, log_level, log_format, metrics_sock=metrics_sock)
        )
