"""``doctor --profile FILE``: the profile's own checks, then the whole doctor run against
what the profile gives a device."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from caldav_gateway.cli import main
from edgeward import pki
from tests.support.gateway import Gateway, make_profile, profile_args


def _doctor(*argv: str) -> tuple[int, str]:
    p = subprocess.run(
        [sys.executable, "-m", "caldav_gateway", "doctor", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return p.returncode, p.stdout + p.stderr


def test_doctor_profile(gateway: Gateway, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text(gateway.users["alice"] + "\n")
    gateway.mkcalendar("alice", "profile-run")  # so that discovery finds one
    good = make_profile(gateway, tmp_path, "alice", "--sign")
    code, out = _doctor("--profile", str(good))
    assert code == 0, out
    assert "PASS  profile.certificate" in out and "PASS  profile.principal " in out
    code, out = _doctor("--profile", str(good), "--password-file", str(pw))
    assert code == 0, out
    assert "PASS  profile.principal_match" in out and "PASS  discovery.calendars" in out

    # wrong CA in the profile: the served certificate does not verify against it
    other = tmp_path / "other-ca.pem"
    other.write_bytes(pki.make_ca("not the gateway's").cert_pem())
    wrong_ca = tmp_path / "wrong-ca.mobileconfig"
    args = profile_args(gateway, "alice", "--out", str(wrong_ca))
    args[args.index("--ca") + 1] = str(other)
    assert main(args) == 0
    code, out = _doctor("--profile", str(wrong_ca))
    assert code == 1 and "FAIL  profile.certificate" in out

    # an unknown user: the gateway answers 404 on its principal
    nobody = make_profile(gateway, tmp_path, "mallory")
    code, out = _doctor("--profile", str(nobody))
    assert code == 1 and "FAIL  profile.principal " in out

    # a URL other than the profile's
    code, out = _doctor(str(good), "--profile", str(good))
    assert code == 2
    code, out = _doctor("https://127.0.0.1:1/", "--profile", str(good))
    assert code == 1 and "FAIL  profile.host" in out

    junk = tmp_path / "junk.mobileconfig"
    junk.write_bytes(b"\x30\x03junk")
    code, out = _doctor("--profile", str(junk))
    assert code == 2 and "not a configuration profile" in out and "Traceback" not in out
