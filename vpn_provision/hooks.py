"""Whether a certificate renewal concerns this VPN server, and the reload that follows.

The server's IKEv2 certificate is a Let's Encrypt pair when ``le_cert``/``le_key`` are set:
a renewal concerns it when one of those files was renewed (same path, the same file
through certbot's ``live/`` symlinks, or a file in the renewed certbot lineage) or when a
renewed domain covers ``host``. The hook then renders the server files again (the
certificate is read from those paths at render time) and reloads the IKE daemon, instead
of Edgewalker's "destroy the VM and start again".
"""

from __future__ import annotations

from typing import Final

from edgeward.acme import Renewal, covers, uses_renewed_files
from vpn_provision.settings import ServerOS, Settings

# How each system's IKE daemon re-reads certificates without dropping other tunnels.
RELOAD: Final[dict[ServerOS, tuple[str, ...]]] = {
    "linux": ("swanctl", "--load-creds"),
    "openbsd": ("ikectl", "reload"),
}


def concerns(settings: Settings, renewal: Renewal) -> str | None:
    """Why ``renewal`` concerns this server (a short reason), or None."""
    if settings.le_cert is None or settings.le_key is None:
        return None
    reason = uses_renewed_files([settings.le_cert, settings.le_key], renewal)
    if reason is not None:
        return reason
    for domain in renewal.domains:
        if covers(domain, settings.host):
            return f"names {settings.host} ({domain} renewed)"
    return None
