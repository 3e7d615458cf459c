"""Shared fixtures: the issue's test-vector key and a rotated key ring."""

from __future__ import annotations

import pytest

from middleware.signed.keyring import KeyRing
from tests.support.signed_url import OTHER_SECRET, VECTOR_SECRET


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.parse(f"k1 {VECTOR_SECRET}\n")


@pytest.fixture
def rotated() -> KeyRing:
    """A new key on top (signs), the vector key kept below (still verifies)."""
    return KeyRing.parse(f"k2 {OTHER_SECRET}\nk1 {VECTOR_SECRET}\n2026-11 {VECTOR_SECRET}\n")
