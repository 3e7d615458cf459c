"""Shared fixtures: the issue's test-vector key and a rotated key ring."""

from __future__ import annotations

import pytest

from middleware.signed.keyring import KeyRing

VECTOR_SECRET = "c2VjcmV0LWtleS1mb3ItdGVzdC12ZWN0b3JzLTAwMDE"
VECTOR_SECRET_BYTES = b"secret-key-for-test-vectors-0001"
OTHER_SECRET = "b3RoZXIta2V5LWZvci1yb3RhdGlvbi10ZXN0cy0wMDAy"  # other-key-for-rotation-tests-0002
NOW = 1_800_000_000.0  # before the vectors' exp=1893456000


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.parse(f"k1 {VECTOR_SECRET}\n")


@pytest.fixture
def rotated() -> KeyRing:
    """A new key on top (signs), the vector key kept below (still verifies)."""
    return KeyRing.parse(f"k2 {OTHER_SECRET}\nk1 {VECTOR_SECRET}\n2026-11 {VECTOR_SECRET}\n")
