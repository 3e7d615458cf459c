"""A real IKEv2 tunnel with certificates: strongSwan's charon with its userspace IPsec
(kernel-libipsec: this kernel has no XFRM ESP algorithms) in two network namespaces.

The server loads the rendered ``swanctl.conf`` and x509 files with ``swanctl --load-all``.
The client is a strongSwan configuration built from the device's ``.p12`` and from the
IKE/child SA parameters, identities and CA written in that device's **Apple profile**, so
the server is shown to accept exactly what the phone will propose. IKE_SA and CHILD_SA
come up, the client gets its pool addresses, TCP crosses the tunnel over IPv4 and IPv6;
after ``remove`` the rendered CRL makes the server refuse the device's certificate."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.netns import Pair, namespace_pair, wait_for
from tests.support.tools import require_tool
from tests.support.vpn import CONNECT, ECHO, PORT
from vpn_provision.render import render, snapshot, suites, write_tree
from vpn_provision.state import State

pytestmark = pytest.mark.slow

CHARON = "/usr/lib/ipsec/charon"


def strongswan_conf(d: Path) -> str:
    return f"""
charon {{
    load_modular = yes
    # Never touch the host: no resolv.conf edits, no stroke socket, logs in the test dir.
    plugins {{
        include /etc/strongswan.d/charon/*.conf
        kernel-libipsec {{
            load = yes
        }}
        resolve {{
            load = no
        }}
        stroke {{
            load = no
        }}
        bypass-lan {{
            load = no
        }}
        vici {{
            socket = unix://{d}/charon.vici
        }}
    }}
    filelog {{
        log {{
            path = {d}/charon.log
            default = 1
            ike = 2
            cfg = 2
            time_format = %T
            flush_line = yes
        }}
    }}
}}
swanctl {{
    socket = unix://{d}/charon.vici
}}
"""


class Charon:
    def __init__(self, pair: Pair, ns: str, d: Path) -> None:
        self.pair, self.ns, self.dir = pair, ns, d
        self.swanctl = require_tool("swanctl", "strongswan-swanctl")
        d.mkdir(parents=True, exist_ok=True)
        (d / "strongswan.conf").write_text(strongswan_conf(d))
        self.env = {"STRONGSWAN_CONF": str(d / "strongswan.conf")}
        # charon's pid file path is fixed under /run: a private tmpfs there per instance.
        self.proc = pair.spawn(
            ns,
            "unshare",
            "-m",
            "sh",
            "-c",
            f"mount -t tmpfs none /run && exec {CHARON}",
            env={**_environ(), **self.env},
        )
        wait_for(lambda: (d / "charon.vici").exists(), f"charon's vici socket in {ns}")

    def ctl(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(
            ["ip", "netns", "exec", self.ns, self.swanctl, *argv],
            capture_output=True,
            text=True,
            timeout=90,
            env={**_environ(), **self.env},
        )
        if check and p.returncode != 0:
            raise AssertionError(f"swanctl {' '.join(argv)}: {p.stdout}{p.stderr}\n{self.log()}")
        return p

    def log(self) -> str:
        f = self.dir / "charon.log"
        return f.read_text(errors="replace") if f.exists() else ""


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


def client_conf(profile: dict[str, Any], server_ip: str, p12: str, password: str) -> str:
    """A strongSwan client that proposes exactly what the Apple profile says."""
    ike = profile["PayloadContent"][-1]["IKEv2"]
    assert ike["AuthenticationMethod"] == "Certificate" and ike["EnablePFS"] == 1
    proposals = suites.strongswan_proposal(ike["IKESecurityAssociationParameters"], ike=True)
    esp = suites.strongswan_proposal(ike["ChildSecurityAssociationParameters"], ike=False)
    return f"""
connections {{
    phone {{
        version = 2
        remote_addrs = {server_ip}
        vips = 0.0.0.0, ::
        proposals = {proposals}
        local {{
            auth = pubkey
            id = {ike["LocalIdentifier"]}
        }}
        remote {{
            auth = pubkey
            id = {ike["RemoteIdentifier"]}
            cacerts = ca.pem
        }}
        children {{
            phone {{
                remote_ts = 0.0.0.0/0, ::/0
                esp_proposals = {esp}
                start_action = none
            }}
        }}
    }}
}}
secrets {{
    pkcs12-phone {{
        file = {p12}
        secret = "{password}"
    }}
}}
"""


def _client_dir(root: Path, state: State, files: dict[str, Any], name: str, server_ip: str) -> Path:
    d = root / "swanctl"
    for sub in ("x509ca", "pkcs12"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    profile = plistlib.loads(files[f"clients/{name}/{name}-ikev2.mobileconfig"].data)
    by_type = {p["PayloadType"]: p for p in profile["PayloadContent"]}
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    ca_der = by_type["com.apple.security.root"]["PayloadContent"]
    (d / "x509ca" / "ca.pem").write_bytes(
        x509.load_der_x509_certificate(ca_der).public_bytes(Encoding.PEM)
    )
    (d / "pkcs12" / f"{name}.p12").write_bytes(
        by_type["com.apple.security.pkcs12"]["PayloadContent"]
    )
    password = state.device(name).p12_password.reveal()
    (d / "swanctl.conf").write_text(client_conf(profile, server_ip, f"{name}.p12", password))
    return d


def _connect(pair: Pair, host: str) -> subprocess.CompletedProcess[str]:
    return pair.exec(pair.client, sys.executable, "-c", CONNECT, host, str(PORT), "30", check=False)


def test_ikev2_tunnel_with_certificates_then_crl(state: State, tmp_path: Path) -> None:
    require_tool("swanctl", "strongswan-swanctl")
    if not Path(CHARON).exists():
        require_tool("charon-missing", "strongswan-charon")
    state.add("dave", "macos", ["ikev2"])
    with namespace_pair() as pair:
        out = tmp_path / "out"
        files = render(snapshot(state))
        write_tree(out, files)
        server_swanctl = tmp_path / "server-swanctl"
        shutil.copytree(out / "server/linux/swanctl", server_swanctl)
        # the server's tunnel-side addresses (unbound would answer on them)
        pair.exec(pair.server, "ip", "addr", "add", "10.77.0.1/32", "dev", "lo")
        pair.exec(pair.server, "ip", "addr", "add", "fd77::1/128", "dev", "lo")
        server = Charon(pair, pair.server, tmp_path / "server")
        loaded = server.ctl("--load-all", "--file", str(server_swanctl / "swanctl.conf"))
        assert "loaded connection 'alice'" in loaded.stdout
        assert "loaded connection 'bob'" not in loaded.stdout  # WireGuard only
        echo = pair.spawn(pair.server, sys.executable, "-c", ECHO % PORT)
        assert echo.stdout is not None and echo.stdout.readline().strip() == "listening"

        client_dir = _client_dir(tmp_path / "alice", state, files, "alice", pair.server_ip)
        client = Charon(pair, pair.client, tmp_path / "client")
        client.ctl("--load-all", "--file", str(client_dir / "swanctl.conf"))
        up = client.ctl("--initiate", "--child", "phone", "--timeout", "60", check=False)
        assert up.returncode == 0, f"{up.stdout}\n--- server\n{server.log()[-3000:]}"
        sas = client.ctl("--list-sas").stdout
        assert "ESTABLISHED" in sas and "INSTALLED" in sas
        assert "10.77.0.2" in sas and "fd77::2" in sas  # its own pool addresses
        for host, seen in (("10.77.0.1", "10.77.0.2"), ("fd77::1", "fd77::2")):
            p = _connect(pair, host)
            assert p.returncode == 0, p.stderr
            assert p.stdout.strip() == seen
        client.ctl("--terminate", "--ike", "phone", "--timeout", "30")

        # alice is removed: the server gets the new CRL (only), reloads credentials
        state.remove("alice")
        new = render(snapshot(state))
        (server_swanctl / "x509crl" / "crl.pem").write_bytes(
            new["server/linux/swanctl/x509crl/crl.pem"].data
        )
        server.ctl("--load-creds", "--clear", "--file", str(server_swanctl / "swanctl.conf"))
        again = client.ctl("--initiate", "--child", "phone", "--timeout", "60", check=False)
        assert again.returncode != 0
        wait_for(lambda: "revoked" in server.log(), "the server to say the certificate is revoked")
        assert "ESTABLISHED" not in client.ctl("--list-sas").stdout
