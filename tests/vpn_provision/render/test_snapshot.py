"""A render reads the state once: devices, CA, CRL, server keys; secrets never in its repr."""

from __future__ import annotations

from cryptography import x509

from vpn_provision import keys
from vpn_provision.render import snapshot
from vpn_provision.state import State


def test_snapshot_reads_the_active_devices_and_the_server_files(state: State) -> None:
    snap = snapshot(state)
    assert [d.name for d in snap.devices] == ["alice", "bob"]  # carol was removed
    assert snap.settings == state.settings
    assert snap.ca_pem == state.ca_pem and snap.crl_pem == state.crl_pem
    assert snap.wg_public == keys.wg_public_key(state.wg_server_private)
    assert snap.cache is not None and snap.cache_digest == snapshot(state).cache_digest


def test_only_the_devices_asked_for(state: State) -> None:
    bob = state.device("bob")
    snap = snapshot(state, (bob,))
    assert snap.devices == (bob,)


def test_server_chain_is_the_leaf_then_the_rest(state: State) -> None:
    leaf_pem, rest = snapshot(state).server_chain()
    leaf = x509.load_pem_x509_certificate(leaf_pem)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert state.settings.host in names.get_values_for_type(x509.DNSName)
    ca = x509.load_pem_x509_certificate(state.ca_pem)
    assert leaf.issuer == ca.subject
    assert rest == b"" or b"BEGIN CERTIFICATE" in rest


def test_ca_der_is_the_same_certificate(state: State) -> None:
    snap = snapshot(state)
    assert x509.load_der_x509_certificate(snap.ca_der()) == x509.load_pem_x509_certificate(
        snap.ca_pem
    )


def test_secrets_stay_out_of_the_repr(state: State) -> None:
    snap = snapshot(state)
    text = repr(snap)
    assert snap.wg_private.reveal() not in text
    assert "PRIVATE KEY" not in text
    assert all(d.wg_private.reveal() not in text for d in snap.devices)
