"""No private key, PSK or .p12 password appears in logs (text and JSON, debug level),
command output (`list`, `show` without --secrets, `link`, `render`, errors), metrics,
exceptions or reprs. The test collects everything the tool says and greps it for every
secret the state holds."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY, generate_latest

from edgeward.cli import UsageError
from tests.support.servers import uvicorn_server
from tests.support.vpn import CLI
from vpn_provision.cli import SUBCOMMANDS
from vpn_provision.render import snapshot
from vpn_provision.state import State
from vpn_provision.web import create_app

INIT = ["--host", "vpn.example.org", "--net4", "10.77.0.0/24", "--net6", "fd77::/64"]


def _pem_body(pem: str) -> list[str]:
    """The base64 lines of a PEM key: any one of them leaking is a leak."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def secrets_of(state: State) -> list[str]:
    found = [state.wg_server_private.reveal()]
    for rel in ("ca/ca-key.pem", "server/ikev2-key.pem"):
        found += _pem_body((state.root / rel).read_text())
    found += [line.split()[1] for line in state.links_keys.read_text().splitlines()]
    for d in state.devices(include_removed=True):
        found += [d.wg_private.reveal(), d.wg_psk.reveal(), d.p12_password.reveal()]
        found += _pem_body(d.key_pem.reveal())
    assert len(found) > 10
    return found


def test_nothing_secret_is_ever_said(
    tmp_path: Path, cli: CLI, caplog: pytest.LogCaptureFixture
) -> None:
    s = str(tmp_path / "st")
    said: list[str] = []
    debug = ["--log-level", "debug"]

    def run(*argv: str, code: int | None = 0) -> str:
        for fmt in ("text", "json"):
            if argv[0] in ("init",) and fmt == "json":
                continue
            r = cli(*argv, "--state", s, *debug, "--log-format", fmt)
            said.extend([r.out, r.err])
            if code is not None:
                assert r.code == code, (argv, r.err)
            if argv[0] in ("add", "remove", "link"):
                break  # not idempotent: once is the point
        return said[-2]

    run("init", *INIT)
    run("add", "alice", "--platform", "ios", "--trusted-ssid", "Home")
    run("add", "bob", "--platform", "android")
    run("add", "carol", "--platform", "linux", "--proto", "wireguard")
    run("remove", "carol")
    run("add", "carol", "--platform", "linux")
    for argv in (
        ["list"],
        ["list", "--all", "--json"],
        ["show", "alice"],
        ["show", "bob", "--json"],
        ["render", "--out", str(tmp_path / "o"), "--check"],
        ["render", "--out", str(tmp_path / "o"), "--json"],
    ):
        run(*argv, code=None)
    link = run("link", "alice").split()[0].removeprefix("http://127.0.0.1:8600")
    # errors: usage mistakes and refusals
    for argv in (
        ["add", "alice", "--platform", "ios"],
        ["show", "nobody"],
        ["add", "BAD NAME", "--platform", "ios"],
        ["hook", "--out", str(tmp_path / "h")],
        ["init", *INIT],
        ["link", "alice", "--expires-in", "-5"],
    ):
        run(*argv, code=2)
    for command in SUBCOMMANDS:
        said.append(cli(command, "--help").out)

    state = State(Path(s))
    caplog.set_level(logging.DEBUG)
    app = create_app(state.root)
    with uvicorn_server(app) as base, httpx.Client(base_url=base) as c:
        page = c.get(link)
        assert page.status_code == 200
        hrefs = re.findall(r"href='([^']+)'", page.text)
        for h in hrefs:
            c.get(h.replace("&amp;", "&"))
        c.get(link)
        c.get(link[:-2] + "xx")
    said.append(caplog.text)
    said.append(generate_latest(REGISTRY).decode())
    # exceptions and reprs
    for action in (lambda: state.add("alice", "ios"), lambda: state.device("nobody")):
        with pytest.raises(UsageError) as info:
            action()
        said += [str(info.value), repr(info.value)]
    said += [repr(d) for d in state.devices()] + [repr(snapshot(state)), str(snapshot(state))]

    text = "\n".join(said)
    assert "alice" in text and "10.77.0.2" in text  # the grep reads real output
    # indexes only: a failing assertion must not print the secret it found
    leaked = [i for i, secret in enumerate(secrets_of(state)) if secret in text]
    assert leaked == []
    # `show --secrets` is the one place that prints them, on purpose
    r = cli("show", "alice", "--state", s, "--secrets")
    assert state.device("alice").p12_password.reveal() in r.out
    state.close()
