"""The rendered tree: ``server/<os>/...`` and ``clients/<device>/...``.

Private files (keys, configs holding keys, .p12) are written 0600, the rest 0644. Writing
a render removes the files of a previous one that this render no longer has (a removed
device's folder), so the output directory always equals the state.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Final, NamedTuple

from edgeward.files import atomic_write_many
from vpn_provision.render import firewall, iked, profiles, qr, strongswan, unbound, wireguard
from vpn_provision.render.cache import Entry
from vpn_provision.render.snapshot import Snapshot
from vpn_provision.settings import SERVER_OSES, ServerOS
from vpn_provision.state import Device

PRIVATE: Final = 0o600
PUBLIC: Final = 0o644


class File(NamedTuple):
    data: bytes
    mode: int = PUBLIC


def _text(text: str, mode: int = PUBLIC) -> File:
    return File(text.encode("utf-8"), mode)


def _linux(snap: Snapshot) -> dict[str, File]:
    leaf, chain = snap.server_chain()
    base = "server/linux"
    files = {
        f"{base}/wg0.conf": _text(wireguard.server_conf(snap), PRIVATE),
        f"{base}/swanctl/swanctl.conf": _text(strongswan.swanctl_conf(snap)),
        f"{base}/swanctl/x509ca/ca.pem": File(snap.ca_pem),
        f"{base}/swanctl/x509/server.pem": File(leaf),
        f"{base}/swanctl/private/server.pem": File(
            snap.server_key_pem.reveal().encode("ascii"), PRIVATE
        ),
        f"{base}/swanctl/x509crl/crl.pem": File(snap.crl_pem),
        f"{base}/nftables.conf": _text(firewall.nftables_conf(snap)),
        f"{base}/unbound.conf": _text(unbound.unbound_conf(snap, "linux")),
    }
    if chain:
        files[f"{base}/swanctl/x509ca/chain.pem"] = File(chain)
    return files


def _openbsd(snap: Snapshot) -> dict[str, File]:
    leaf, chain = snap.server_chain()
    base = "server/openbsd"
    host = snap.settings.host
    files = {
        f"{base}/iked.conf": _text(iked.iked_conf(snap), PRIVATE),  # iked -n wants 0600
        f"{base}/iked/ca/ca.crt": File(snap.ca_pem),
        f"{base}/iked/certs/{host}.crt": File(leaf),
        f"{base}/iked/crls/ca.crl": File(snap.crl_pem),
        f"{base}/iked/private/local.key": File(
            snap.server_key_pem.reveal().encode("ascii"), PRIVATE
        ),
        f"{base}/hostname.{snap.settings.wg_interface}": _text(
            wireguard.hostname_wg(snap), PRIVATE
        ),
        f"{base}/pf.conf": _text(firewall.pf_conf(snap)),
        f"{base}/unbound.conf": _text(unbound.unbound_conf(snap, "openbsd")),
    }
    if chain:
        files[f"{base}/iked/ca/chain.crt"] = File(chain)
    return files


SERVER: Final[dict[ServerOS, Callable[[Snapshot], dict[str, File]]]] = {
    "linux": _linux,
    "openbsd": _openbsd,
}


def client_files(
    snap: Snapshot, d: Device, pngs: Mapping[str, bytes] | None = None
) -> dict[str, File]:
    """One device's files, by file name (from the cache when it has them, else kept
    there until ``snap.cache.save()``; ``pngs``: QR codes already drawn, by the config
    they encode)."""
    if snap.cache is None:
        return _client_files(snap, d, pngs or {})
    key = snap.cache.key(snap.cache_digest, d)
    hit = snap.cache.get(key)
    if hit is not None:
        return {name: File(e.data, e.mode) for name, e in hit.items()}
    files = _client_files(snap, d, pngs or {})
    snap.cache.put(key, {name: Entry(f.data, f.mode) for name, f in files.items()})
    return files


def _client_files(snap: Snapshot, d: Device, pngs: Mapping[str, bytes]) -> dict[str, File]:
    files: dict[str, File] = {}
    if "wireguard" in d.protos:
        conf = wireguard.client_conf(snap, d)
        files[f"{d.name}.conf"] = _text(conf, PRIVATE)
        png = pngs.get(conf)
        files[f"{d.name}.png"] = File(png if png is not None else qr.png(conf), PRIVATE)
    if "ikev2" in d.protos:
        files[f"{d.name}.p12"] = File(d.p12, PRIVATE)
        files[f"{d.name}.crt"] = File(d.cert_pem)
        files["ca.pem"] = File(snap.ca_pem)
    for name, data in profiles.client_files(snap, d).items():
        files[name] = File(data, PRIVATE)
    return files


# A first render of a large fleet could draw the missing QR codes on every core, but a
# code costs ~0.8 ms of CPU (edgeward.qrmatrix) and starting the forkserver and its
# workers (each importing cryptography) ~1-2 s of wall time here: more than drawing
# 1,000 codes in this process. Worth it only for fleets far beyond a family's.
POOL_MIN: Final = 4096


def _missing(snap: Snapshot) -> list[Device]:
    """The devices the cache has no files for (all of them without a cache)."""
    cache = snap.cache
    if cache is None:
        return list(snap.devices)
    return [d for d in snap.devices if not cache.has(cache.key(snap.cache_digest, d))]


def _draw_missing(snap: Snapshot) -> dict[str, bytes]:
    """QR codes of the devices the cache has no files for, drawn in worker processes when
    there are many (the same bytes :func:`qr.png` gives in this process: it is pure)."""
    confs = [wireguard.client_conf(snap, d) for d in _missing(snap) if "wireguard" in d.protos]
    workers = min(len(os.sched_getaffinity(0)), 8)
    if len(confs) < POOL_MIN or workers < 2:
        return {}
    # forkserver: a fork of a process running threads (serve) could copy a held lock.
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        chunk = max(1, len(confs) // (workers * 4))
        return dict(zip(confs, pool.map(qr.png, confs, chunksize=chunk), strict=True))


def _clients(snap: Snapshot) -> dict[str, File]:
    # One thread: threads overlapping the cache files' creation cost more CPU (kernel lock
    # contention) and, measured under load here, more wall time too.
    pngs = _draw_missing(snap)
    per_device = [client_files(snap, d, pngs) for d in snap.devices]
    if snap.cache is not None:
        snap.cache.save()
    return {
        f"clients/{d.name}/{name}": f
        for d, files in zip(snap.devices, per_device, strict=True)
        for name, f in files.items()
    }


def render(
    snap: Snapshot, oses: Sequence[ServerOS] | None = None, *, signed: bool = False
) -> dict[str, File]:
    """Every file, by path relative to the output directory (pure, unless ``signed``:
    CMS signatures carry a signing time and a randomised ECDSA signature)."""
    files: dict[str, File] = {}
    for name in oses if oses is not None else (snap.settings.os,):
        files.update(SERVER[name](snap))
    files.update(_clients(snap))
    if signed:
        for rel, f in list(files.items()):
            if rel.endswith(".mobileconfig"):
                signed_data = profiles.sign(f.data, snap.server_cert_pem, snap.server_key_pem)
                files[rel] = File(signed_data, f.mode)
    return dict(sorted(files.items()))


def write_tree(out: Path, files: Mapping[str, File]) -> list[Path]:
    """Write ``files`` under ``out``; delete what an earlier render left there. Returns
    the paths removed."""
    # Plain strings and one stat per file: a render of 1,000 devices writes ~6,000 files,
    # and most are unchanged (compare size and mode first, then the bytes).
    base = os.fspath(out)
    changed = []
    for rel, f in files.items():
        path = os.path.join(base, rel)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        if st is not None and st.st_size == len(f.data) and (st.st_mode & 0o777) == f.mode:
            with open(path, "rb") as existing:
                if existing.read() == f.data:
                    continue
        changed.append((Path(path), f))
    # One durability barrier for all of them (edgeward.files.atomic_write_many): one fsync
    # per file was most of a first render's wall time (~6,000 journal commits in a row).
    # What remains is creating each file (~0.2 ms of kernel time on a quiet machine here,
    # 1-2 ms under load); threads overlapping those cost more, in CPU and in wall time.
    atomic_write_many([(p, f.data, f.mode) for p, f in changed])
    removed = []
    for top in ("server", "clients"):
        root = os.path.join(base, top)
        if not os.path.isdir(root):
            continue
        for dirpath, _dirs, names in os.walk(root, topdown=False):
            rel_dir = dirpath[len(base) + 1 :]
            for n in names:
                if f"{rel_dir}/{n}" not in files:
                    os.unlink(os.path.join(dirpath, n))
                    removed.append(Path(dirpath, n))
            if dirpath != root and not os.listdir(dirpath):
                os.rmdir(dirpath)
    return removed


__all__ = ["PRIVATE", "PUBLIC", "SERVER_OSES", "File", "render", "write_tree"]
