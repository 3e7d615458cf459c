"""One IKEv2 suite, three spellings: what the phone proposes is what the servers accept."""

from __future__ import annotations

import pytest

from vpn_provision.render import suites


def test_apples_parameters_spell_the_strongswan_proposals() -> None:
    assert suites.strongswan_proposal(suites.APPLE_IKE, ike=True) == suites.STRONGSWAN_IKE
    assert suites.strongswan_proposal(suites.APPLE_CHILD, ike=False) == suites.STRONGSWAN_ESP


@pytest.mark.parametrize(
    ("enc", "integ", "dh", "ike", "proposal"),
    [
        ("AES-256-GCM", "SHA2-384", 20, True, "aes256gcm16-prfsha384-ecp384"),
        ("AES-256-GCM", "SHA2-384", 20, False, "aes256gcm16-ecp384"),  # AEAD: no integrity
        ("AES-128-GCM", "SHA2-256", 19, True, "aes128gcm16-prfsha256-ecp256"),
        ("ChaCha20Poly1305", "SHA2-512", 31, True, "chacha20poly1305-prfsha512-curve25519"),
        ("AES-256", "SHA2-256", 14, True, "aes256-sha256-modp2048"),  # not AEAD: integrity
        ("AES-256", "SHA2-256", 14, False, "aes256-sha256-modp2048"),
        ("AES-128", "SHA2-512", "21", False, "aes128-sha512-ecp521"),  # a plist may hold text
    ],
)
def test_strongswan_proposal_table(
    enc: str, integ: str, dh: int | str, ike: bool, proposal: str
) -> None:
    params = {"EncryptionAlgorithm": enc, "IntegrityAlgorithm": integ, "DiffieHellmanGroup": dh}
    assert suites.strongswan_proposal(params, ike=ike) == proposal


@pytest.mark.parametrize(
    "what", ["EncryptionAlgorithm", "IntegrityAlgorithm", "DiffieHellmanGroup"]
)
def test_an_unknown_algorithm_is_refused_not_guessed(what: str) -> None:
    params: dict[str, object] = dict(suites.APPLE_IKE)
    params[what] = "3DES" if what != "DiffieHellmanGroup" else 2
    with pytest.raises(KeyError):
        suites.strongswan_proposal(params, ike=True)


@pytest.mark.parametrize(
    ("apple", "iked"),
    [(suites.APPLE_IKE, suites.IKED_IKESA), (suites.APPLE_CHILD, suites.IKED_CHILDSA)],
)
def test_iked_spells_the_same_cipher_and_group(apple: dict[str, object], iked: str) -> None:
    assert apple["EncryptionAlgorithm"] == "AES-256-GCM" and "enc aes-256-gcm" in iked
    assert apple["DiffieHellmanGroup"] == 20 and "group ecp384" in iked
