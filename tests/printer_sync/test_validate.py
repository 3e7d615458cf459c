"""Local validation: what must never reach a printer, and renewals caught mid-write."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeward.files import atomic_write
from edgeward.pki import make_ca
from printer_sync.config import PrinterConfig
from printer_sync.errors import ErrorKind, PushError
from printer_sync.push import normalise_fingerprint
from printer_sync.validate import Bundle, Limits, load_bundle
from tests.support.printers import Chain, LeafFiles, write_leaf

EPSON = Limits(slots=3, rsa_bits=(2048, 4096), ecdsa=False)


def _printer(files: LeafFiles, **kw: object) -> PrinterConfig:
    args: dict[str, object] = {
        "name": "p",
        "url": "https://127.0.0.1",
        "key": files.key,
        "cert": files.cert,
        "chain": files.chain,
    }
    args.update(kw)
    return PrinterConfig(**args)  # type: ignore[arg-type]


def _load(printer: PrinterConfig, limits: Limits = EPSON, settle: float = 0.3) -> Bundle:
    return asyncio.run(load_bundle(printer, limits, settle=settle, pause=0.05))


def _kind(printer: PrinterConfig, limits: Limits = EPSON) -> ErrorKind:
    with pytest.raises(PushError) as exc:
        _load(printer, limits)
    return exc.value.kind


def test_a_good_bundle(tmp_path: Path, chain: Chain) -> None:
    files = write_leaf(tmp_path, chain)
    bundle = _load(_printer(files))
    assert bundle.fingerprint == files.fingerprint
    assert bundle.chain == (chain.intermediate.cert,)
    assert bundle.key_pem == files.key.read_bytes()
    assert "key_pem" not in repr(bundle)


def test_fullchain_file_plus_chain_file_is_not_doubled(tmp_path: Path, chain: Chain) -> None:
    files = write_leaf(tmp_path, chain)
    fullchain = tmp_path / "fullchain.pem"
    fullchain.write_bytes(files.cert.read_bytes() + files.chain.read_bytes())
    both = _load(_printer(files, cert=fullchain))
    alone = _load(_printer(files, cert=fullchain, chain=None))
    assert both.chain == alone.chain == (chain.intermediate.cert,)


def test_root_in_ca_certs_verifies_the_last_link(tmp_path: Path, chain: Chain) -> None:
    files = write_leaf(tmp_path, chain)
    root = tmp_path / "root.pem"
    root.write_bytes(chain.root.cert_pem())
    bundle = _load(_printer(files, ca_certs=[root]))
    assert bundle.ca_certs == (chain.root.cert,)
    stranger = tmp_path / "stranger.pem"
    impostor = make_ca("printer test root")  # same name, other key
    stranger.write_bytes(impostor.cert_pem())
    assert _kind(_printer(files, ca_certs=[stranger])) is ErrorKind.CHAIN_INVALID


@pytest.mark.parametrize(
    ("limits", "key_type", "kind"),
    [
        (EPSON, "ec256", ErrorKind.KEY_UNSUPPORTED),
        (EPSON, "ec384", ErrorKind.KEY_UNSUPPORTED),
        (Limits(rsa_bits=(3072, 4096)), "rsa2048", ErrorKind.KEY_UNSUPPORTED),
        (Limits(rsa_bits=(2048, 2048)), "rsa3072", ErrorKind.KEY_UNSUPPORTED),
        (Limits(ecdsa=True), "ec256", None),
        (EPSON, "rsa3072", None),
    ],
)
def test_key_types_and_sizes(
    tmp_path: Path, chain: Chain, limits: Limits, key_type: str, kind: ErrorKind | None
) -> None:
    printer = _printer(write_leaf(tmp_path, chain, key_type=key_type))  # type: ignore[arg-type]
    if kind is None:
        _load(printer, limits)
    else:
        assert _kind(printer, limits) is kind


def test_ecdsa_refusal_says_what_to_do(tmp_path: Path, chain: Chain) -> None:
    from printer_sync.drivers.epson import EpsonDriver

    printer = _printer(write_leaf(tmp_path, chain, key_type="ec256"))
    with pytest.raises(PushError) as exc:
        _load(printer, EpsonDriver.limits)
    assert "ECDSA" in exc.value.message and "certbot --key-type rsa" in exc.value.message


def test_encrypted_key_is_refused(tmp_path: Path, chain: Chain) -> None:
    files = write_leaf(tmp_path, chain)
    encrypted = files.leaf.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass"),
    )
    files.key.write_bytes(encrypted)
    assert _kind(_printer(files)) is ErrorKind.KEY_UNSUPPORTED


@pytest.mark.parametrize("which", ["key", "cert", "chain"])
def test_missing_files(tmp_path: Path, chain: Chain, which: str) -> None:
    files = write_leaf(tmp_path, chain)
    getattr(files, which).unlink()
    assert _kind(_printer(files)) is ErrorKind.FILE_MISSING


def test_a_renewal_between_key_and_cert_is_waited_out(tmp_path: Path, chain: Chain) -> None:
    files = write_leaf(tmp_path, chain)
    renewed = write_leaf(tmp_path / "next", chain)
    atomic_write(files.key, renewed.key.read_bytes())  # the new key is there, the cert not yet

    def finish() -> None:
        time.sleep(0.3)
        atomic_write(files.cert, renewed.cert.read_bytes())

    t = threading.Thread(target=finish)
    t.start()
    try:
        bundle = asyncio.run(load_bundle(_printer(files), EPSON, settle=3.0, pause=0.1))
    finally:
        t.join()
    assert bundle.fingerprint == renewed.fingerprint


def test_an_old_mismatch_is_reported_at_once(tmp_path: Path, chain: Chain) -> None:
    """Issue 13: files nobody is writing that disagree are no renewal in progress."""
    files = write_leaf(tmp_path, chain)
    other = write_leaf(tmp_path / "other", chain)
    atomic_write(files.key, other.key.read_bytes())
    hour_ago = time.time() - 3600
    for p in (files.key, files.cert):
        os.utime(p, (hour_ago, hour_ago))
    started = time.monotonic()
    with pytest.raises(PushError) as exc:
        asyncio.run(load_bundle(_printer(files), EPSON, settle=30.0, pause=0.1))
    assert exc.value.kind is ErrorKind.KEY_MISMATCH
    assert time.monotonic() - started < 5  # not the 30 s of file_settle


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_a_truncated_file_is_never_taken_for_another(data: st.DataObject) -> None:
    """Cut the certificate anywhere: the result is the whole certificate or file_incomplete."""
    files = _SHARED["files"]
    assert isinstance(files, LeafFiles)
    full = _SHARED["full"]
    assert isinstance(full, bytes)
    cut = data.draw(st.integers(min_value=0, max_value=len(full)))
    target = files.cert.with_name(f"cut-{cut}.pem")
    target.write_bytes(full[:cut])
    outcome: object
    try:
        outcome = asyncio.run(
            load_bundle(_printer(files, cert=target), EPSON, settle=0.0, pause=0.0)
        ).fingerprint
    except PushError as exc:
        outcome = exc.kind
    finally:
        target.unlink()
    assert outcome in (files.fingerprint, ErrorKind.FILE_INCOMPLETE)


_SHARED: dict[str, object] = {}


@pytest.fixture(autouse=True, scope="module")
def _shared_files(tmp_path_factory: pytest.TempPathFactory, chain: Chain) -> None:
    files = write_leaf(tmp_path_factory.mktemp("shared"), chain)
    _SHARED.update(files=files, full=files.cert.read_bytes())


@settings(max_examples=60, deadline=None)
@given(
    raw=st.binary(min_size=32, max_size=32),
    sep=st.sampled_from([":", "", " ", "-"]),
    lower=st.booleans(),
)
def test_fingerprints_normalise(raw: bytes, sep: str, lower: bool) -> None:
    text = raw.hex(sep) if sep else raw.hex()
    text = text.lower() if lower else text.upper()
    assert normalise_fingerprint(text) == raw.hex(":").upper()


@pytest.mark.parametrize("text", ["", "AB", "ZZ" * 32, "AB" * 33, "AB:" * 31 + "A"])
def test_bad_fingerprints(text: str) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        normalise_fingerprint(text)
