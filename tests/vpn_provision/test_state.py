"""The state directory: CA, keys, modes, addresses never reused, revocation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from edgeward.cli import UsageError
from tests.support.vpn import HOST, make_state
from vpn_provision.keys import wg_public_key
from vpn_provision.settings import Settings
from vpn_provision.state import State, check_device_name


def test_ca_is_p384_path_length_zero_and_name_constrained(tmp_path: Path) -> None:
    st = make_state(tmp_path / "s")
    ca = st.ca.cert
    key = ca.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp384r1"
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    nc = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert nc.critical
    assert set(nc.value.permitted_subtrees or []) == {x509.DNSName(HOST), x509.RFC822Name(HOST)}
    server = x509.load_pem_x509_certificate((st.root / "server" / "ikev2.pem").read_bytes())
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [HOST]


def test_key_files_are_0600(tmp_path: Path) -> None:
    st = make_state(tmp_path / "s")
    for rel in ("ca/ca-key.pem", "server/ikev2-key.pem", "server/wg.key", "links.keys", "state.db"):
        mode = stat.S_IMODE((st.root / rel).stat().st_mode)
        assert mode == 0o600, rel
    assert stat.S_IMODE(st.root.stat().st_mode) == 0o700


@pytest.mark.parametrize("prepare", ["file", "nonempty"])
def test_init_refuses_an_existing_directory(tmp_path: Path, prepare: str) -> None:
    root = tmp_path / "s"
    if prepare == "file":
        root.write_text("x")
    else:
        root.mkdir()
        (root / "keep").write_text("x")
    with pytest.raises(UsageError, match="refusing"):
        make_state(root)


def test_addresses_are_never_reused(tmp_path: Path) -> None:
    st = make_state(tmp_path / "s")
    a = st.add("a", "ios")
    b = st.add("b", "ios")
    st.remove("b")
    b2 = st.add("b", "ios")
    c = st.add("c", "android")
    indexes = [a.index, b.index, b2.index, c.index]
    assert indexes == [2, 3, 4, 5]
    assert b2.address4 == "10.77.0.4"
    assert b2.address6 == "fd77::4"
    # fresh keys and a fresh certificate for the re-added name
    assert b2.wg_public != b.wg_public and b2.wg_psk != b.wg_psk
    assert b2.serial != b.serial
    assert st.revoked()[0][0] == b.serial


def test_pool_exhaustion_is_a_clear_error(tmp_path: Path) -> None:
    from vpn_provision.state import init

    st = init(tmp_path / "s", Settings(host=HOST, net4="10.1.0.0/29", net6="fd01::/120"))
    for i in range(6):  # .2 .. .7 (.0 network, .1 server; /29 has 8 addresses)
        st.add(f"d{i}", "linux", ["wireguard"])
    with pytest.raises(UsageError, match="exhausted"):
        st.add("one-more", "linux", ["wireguard"])


def test_device_keys_are_distinct_and_consistent(state: State) -> None:
    alice, bob = state.devices()
    assert wg_public_key(alice.wg_private) == alice.wg_public
    assert len({alice.wg_public, bob.wg_public, state.settings.host}) == 3
    assert alice.wg_psk != bob.wg_psk
    cert = alice.cert
    cert.verify_directly_issued_by(state.ca.cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == [f"alice@{HOST}"]


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("alice", True),
        ("a-1", True),
        ("A", False),
        ("-x", False),
        ("a b", False),
        ("x" * 33, False),
        ("../x", False),
        ("", False),
    ],
)
def test_device_names(tmp_path: Path, name: str, ok: bool) -> None:
    st = make_state(tmp_path / "s")
    if ok:
        assert st.add(name, "ios").name == name
    else:
        with pytest.raises(UsageError, match="expected 1-32"):
            st.add(name, "ios")


def test_duplicate_and_unknown_names(state: State) -> None:
    with pytest.raises(UsageError, match="exists"):
        state.add("alice", "ios")
    with pytest.raises(UsageError, match="no device named 'carol'"):
        state.device("carol")
    with pytest.raises(UsageError, match="no device"):
        state.remove("nobody")


def test_crl_lasts_as_long_as_the_ca(state: State) -> None:
    crl = x509.load_pem_x509_crl(state.crl_pem)
    assert crl.next_update_utc is not None
    assert (state.ca.cert.not_valid_after_utc - crl.next_update_utc).days <= 1
    assert crl.is_signature_valid(state.ca.cert.public_key())  # type: ignore[arg-type]
    carol = next(d for d in state.devices(include_removed=True) if d.name == "carol")
    assert crl.get_revoked_certificate_by_serial_number(carol.serial) is not None


@given(st.text(max_size=40))
def test_device_names_are_checked_never_crash(name: str) -> None:
    try:
        check_device_name(name)
    except UsageError:
        return
    assert name == name.lower() and "/" not in name and " " not in name and 0 < len(name) <= 32
