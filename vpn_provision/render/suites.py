"""The one set of IKEv2 algorithms every rendered file agrees on.

Apple's profile names them (``IKESecurityAssociationParameters``), strongSwan and iked
spell the same suite their own way; keeping the three spellings side by side is what
makes the server accept exactly what the phone proposes. AES-256-GCM with a SHA-384 PRF
and ECP-384 (DH group 20) for the IKE SA; AES-256-GCM with PFS over ECP-384 for ESP.
"""

from __future__ import annotations

from typing import Final

APPLE_IKE: Final = {
    "EncryptionAlgorithm": "AES-256-GCM",
    "IntegrityAlgorithm": "SHA2-384",
    "DiffieHellmanGroup": 20,
    "LifeTimeInMinutes": 1440,
}
APPLE_CHILD: Final = {
    "EncryptionAlgorithm": "AES-256-GCM",
    "IntegrityAlgorithm": "SHA2-384",
    "DiffieHellmanGroup": 20,
    "LifeTimeInMinutes": 480,
}

STRONGSWAN_IKE: Final = "aes256gcm16-prfsha384-ecp384"
STRONGSWAN_ESP: Final = "aes256gcm16-ecp384"

IKED_IKESA: Final = "enc aes-256-gcm prf hmac-sha2-384 group ecp384"
IKED_CHILDSA: Final = "enc aes-256-gcm group ecp384"

# Apple's names → strongSwan's, for building a client from what a profile says.
_ENC: Final = {
    "AES-128": "aes128",
    "AES-256": "aes256",
    "AES-128-GCM": "aes128gcm16",
    "AES-256-GCM": "aes256gcm16",
    "ChaCha20Poly1305": "chacha20poly1305",
}
_INTEG: Final = {"SHA2-256": "sha256", "SHA2-384": "sha384", "SHA2-512": "sha512"}
_DH: Final = {14: "modp2048", 19: "ecp256", 20: "ecp384", 21: "ecp521", 31: "curve25519"}


def strongswan_proposal(params: dict[str, object], *, ike: bool) -> str:
    """A strongSwan proposal for one of Apple's SA parameter dictionaries."""
    enc = _ENC[str(params["EncryptionAlgorithm"])]
    integ = _INTEG[str(params["IntegrityAlgorithm"])]
    dh = _DH[int(str(params["DiffieHellmanGroup"]))]
    aead = "gcm" in enc or "poly" in enc
    if ike:
        return f"{enc}-prf{integ}-{dh}" if aead else f"{enc}-{integ}-{dh}"
    return f"{enc}-{dh}" if aead else f"{enc}-{integ}-{dh}"
