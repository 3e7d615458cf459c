"""What an ACME client says it renewed: certbot, acme.sh and lego deploy-hook contracts.

Each client has its own hook contract; all of them reduce to "these domains, these files":

- **certbot** ``--deploy-hook``: ``RENEWED_LINEAGE`` (the live folder, e.g.
  ``/etc/letsencrypt/live/example.org``, holding ``privkey.pem``, ``cert.pem``,
  ``chain.pem``, ``fullchain.pem``) and ``RENEWED_DOMAINS`` (space-separated).
- **acme.sh** deploy hook: the function ``<name>_deploy`` is called with ``domain keyfile
  certfile cafile fullchain`` as arguments (acme.sh's ``deploy/myapi.sh`` names them
  ``_cdomain _ckey _ccert _cca _cfullchain``); a wrapper may export those names instead.
  Its ``--reloadcmd``/``--renew-hook`` get ``CERT_PATH``, ``CERT_KEY_PATH``,
  ``CA_CERT_PATH``, ``CERT_FULLCHAIN_PATH`` and ``Le_Domain`` in the environment.
- **lego** ``--run-hook``/``--renew-hook``: ``LEGO_CERT_DOMAIN``, ``LEGO_CERT_PATH``,
  ``LEGO_CERT_KEY_PATH`` (and ``LEGO_CERT_PEM_PATH`` with ``--pem``).

Shared by the tools that act on renewals (``printer-sync hook``, ``vpn-provision hook``);
each decides what a :class:`Renewal` concerns (:func:`covers`, :func:`same_file`).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

Source = Literal["certbot", "acme.sh", "lego"]
SOURCES: Final[tuple[Source, ...]] = ("certbot", "acme.sh", "lego")

CERTBOT_FILES: Final = ("privkey.pem", "cert.pem", "chain.pem", "fullchain.pem")
ACME_SH_ARGS: Final = ("domain", "keyfile", "certfile", "cafile", "fullchain")
ACME_SH_EXPORTED: Final = ("_cdomain", "_ckey", "_ccert", "_cca", "_cfullchain")
ACME_SH_RELOAD: Final = ("Le_Domain", "CERT_KEY_PATH", "CERT_PATH", "CA_CERT_PATH")
ACME_SH_RELOAD_FULLCHAIN: Final = "CERT_FULLCHAIN_PATH"
LEGO_FILES: Final = ("LEGO_CERT_KEY_PATH", "LEGO_CERT_PATH", "LEGO_CERT_PEM_PATH")


class HookError(ValueError):
    """The hook was called without anything it can use; ``str()`` says what it expected."""


@dataclass(frozen=True)
class Renewal:
    source: Source
    domains: tuple[str, ...]
    files: tuple[Path, ...]
    lineage: Path | None = None  # certbot's live folder

    def describe(self) -> str:
        names = " ".join(self.domains) or "no domain"
        return f"{self.source} renewal of {names} ({len(self.files)} file(s))"


def _norm_domain(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _domains(*values: str | None) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        for d in (v or "").replace(",", " ").split():
            n = _norm_domain(d)
            if n and n not in out:
                out.append(n)
    return tuple(out)


def _files(*values: str | None) -> tuple[Path, ...]:
    out: list[Path] = []
    for v in values:
        if v and v.strip():
            p = Path(v.strip())
            if p not in out:
                out.append(p)
    return tuple(out)


def _certbot(env: Mapping[str, str]) -> Renewal | None:
    lineage = env.get("RENEWED_LINEAGE", "").strip()
    if not lineage:
        return None
    live = Path(lineage)
    return Renewal(
        "certbot",
        _domains(env.get("RENEWED_DOMAINS")),
        tuple(live / f for f in CERTBOT_FILES),
        lineage=live,
    )


def _lego(env: Mapping[str, str]) -> Renewal | None:
    if not any(env.get(k) for k in (*LEGO_FILES, "LEGO_CERT_DOMAIN")):
        return None
    return Renewal(
        "lego", _domains(env.get("LEGO_CERT_DOMAIN")), _files(*(env.get(k) for k in LEGO_FILES))
    )


def _acme_sh_args(args: Sequence[str]) -> Renewal:
    if len(args) > len(ACME_SH_ARGS):
        raise HookError(
            f"expected at most {len(ACME_SH_ARGS)} arguments ({' '.join(ACME_SH_ARGS)}), "
            f"as acme.sh passes them to a deploy hook; got {len(args)}"
        )
    domain, *files = list(args)
    return Renewal("acme.sh", _domains(domain), _files(*files))


def _acme_sh_env(env: Mapping[str, str]) -> Renewal | None:
    exported = [env.get(k) for k in ACME_SH_EXPORTED]
    if any(exported):
        return Renewal("acme.sh", _domains(exported[0]), _files(*exported[1:]))
    reload = [env.get(k) for k in ACME_SH_RELOAD]
    if any(reload):
        files = _files(*reload[1:], env.get(ACME_SH_RELOAD_FULLCHAIN))
        return Renewal("acme.sh", _domains(reload[0]), files)
    return None


def renewal_from(
    env: Mapping[str, str], args: Sequence[str] = (), source: Source | None = None
) -> Renewal:
    """Read the renewal from the hook's arguments and environment.

    Arguments are acme.sh's deploy-hook contract; without them the environment decides,
    certbot first, then lego, then acme.sh's exported names. ``source`` forces one.
    """
    readers = {
        "certbot": _certbot,
        "lego": _lego,
        "acme.sh": _acme_sh_env,
    }
    if args:
        if source not in (None, "acme.sh"):
            raise HookError(f"arguments are acme.sh's contract; {source} passes none")
        renewal = _acme_sh_args(args)
    else:
        renewal = None
        for name in (source,) if source else SOURCES:
            renewal = readers[name](env)
            if renewal is not None:
                break
    if renewal is None or not (renewal.domains or renewal.files):
        expected = {
            None: "RENEWED_LINEAGE (certbot), LEGO_CERT_PATH (lego), or acme.sh's "
            "arguments DOMAIN KEY CERT CA FULLCHAIN",
            "certbot": "RENEWED_LINEAGE and RENEWED_DOMAINS in the environment",
            "lego": "LEGO_CERT_DOMAIN, LEGO_CERT_PATH, LEGO_CERT_KEY_PATH in the environment",
            "acme.sh": "the arguments DOMAIN KEY CERT CA FULLCHAIN (or _cdomain, _ckey, "
            "_ccert... / Le_Domain, CERT_PATH... in the environment)",
        }[source]
        raise HookError(f"no renewed certificate to act on: expected {expected}")
    return renewal


def covers(renewed: str, name: str) -> bool:
    """Whether a certificate for ``renewed`` is valid for ``name`` (one-label wildcard)."""
    renewed, name = _norm_domain(renewed), _norm_domain(name)
    if renewed == name:
        return True
    if renewed.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and head != "*" and rest == renewed[2:]
    return False


def same_file(a: Path, b: Path) -> bool:
    if os.path.normpath(a) == os.path.normpath(b):
        return True
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except OSError:
        return False


def uses_renewed_files(paths: Sequence[Path], renewal: Renewal) -> str | None:
    """Why one of ``paths`` (a tool's key/certificate files) is among the renewed files:
    the same file (also through certbot's ``live/`` symlinks), or a file in the renewed
    certbot lineage folder. None when none is."""
    for path in paths:
        for renewed in renewal.files:
            if same_file(path, renewed):
                return f"uses {renewed}"
        if renewal.lineage is not None and os.path.normpath(path.parent) == os.path.normpath(
            renewal.lineage
        ):
            return f"uses {path} in {renewal.lineage}"
    return None


def add_hook_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments every deploy-hook command takes: acme.sh's positional ones, and
    ``--from`` to force one client's contract."""
    p.add_argument(
        "args",
        nargs="*",
        metavar="ARG",
        help="acme.sh's deploy-hook arguments: DOMAIN [KEY CERT CA FULLCHAIN]",
    )
    p.add_argument(
        "--from",
        dest="source",
        choices=["auto", *SOURCES],
        default="auto",
        help="which client's contract to read (auto: arguments, then certbot, lego, acme.sh)",
    )


def renewal_of(args: argparse.Namespace, env: Mapping[str, str]) -> Renewal:
    """The renewal the hook was called for; a :class:`~edgeward.cli.UsageError` (exit
    code 2) when there is none."""
    from edgeward.cli import UsageError

    source: Source | None = None if args.source == "auto" else args.source
    try:
        return renewal_from(env, args.args, source)
    except HookError as exc:
        raise UsageError(str(exc)) from None
