"""The client cache: exactly a fresh render, a damaged entry is a miss."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vpn_provision.render import render, snapshot
from vpn_provision.render.cache import PACK, ClientCache, Entry, parse, seal, unseal
from vpn_provision.state import State


def test_the_client_cache_returns_exactly_a_fresh_render(state: State) -> None:
    import dataclasses

    fresh = render(dataclasses.replace(snapshot(state), cache=None), ["linux", "openbsd"])
    cold = render(snapshot(state), ["linux", "openbsd"])
    cache_dir = state.root / "cache" / "clients"
    assert len(ClientCache(cache_dir).keys()) == 2  # alice and bob
    assert [p.name for p in cache_dir.iterdir()] == [PACK]  # one file for all
    warm = render(snapshot(state), ["linux", "openbsd"])
    assert fresh == cold == warm
    # a change of anything a device's files are made of is a miss, not a stale hit
    state.add("erin", "ios")
    state.remove("erin")
    import sqlite3

    db = sqlite3.connect(state.root / "state.db")
    db.execute("UPDATE devices SET trusted_ssids = '[\"Office\"]' WHERE name = 'alice'")
    db.commit()
    db.close()
    after = render(snapshot(state), ["linux", "openbsd"])
    assert (
        after["clients/alice/alice-ikev2.mobileconfig"]
        != warm["clients/alice/alice-ikev2.mobileconfig"]
    )
    assert b"Office" in after["clients/alice/alice-ikev2.mobileconfig"].data
    assert len(ClientCache(cache_dir).keys()) == 3


@given(st.binary(max_size=200))
def test_a_damaged_cache_file_is_a_miss(raw: bytes) -> None:
    result = parse(raw)
    assert result is None or all(isinstance(e, Entry) for e in result.values())


def test_cache_round_trip() -> None:
    from vpn_provision.render.cache import ClientCache

    assert parse(b"a.conf 600 3\nabcb.png 644 0\n") == {
        "a.conf": Entry(b"abc", 0o600),
        "b.png": Entry(b"", 0o644),
    }
    assert parse(b"a.conf 600 9\nabc") is None  # truncated
    assert ClientCache  # the writer is exercised by the render tests


def _truncated(raw: bytes) -> bytes:
    return raw[: len(raw) // 2]


def _flipped(raw: bytes) -> bytes:
    return raw[:-10] + bytes([raw[-10] ^ 1]) + raw[-9:]


def _unsealed(raw: bytes) -> bytes:
    return raw.partition(b"\n")[2]  # the body alone, a well-formed but unchecked entry


def test_what_a_crash_leaves_of_the_entries_is_a_miss(state: State) -> None:
    """The entries are written without an fsync: after a crash the file may be empty, cut
    short or hold garbage. Each is a miss, and the render equals a fresh one."""
    import dataclasses

    fresh = render(dataclasses.replace(snapshot(state), cache=None), ["linux", "openbsd"])
    render(snapshot(state), ["linux", "openbsd"])
    pack = state.root / "cache" / "clients" / PACK
    damages = [lambda raw: b"", _truncated, _flipped, _unsealed]
    for damage in damages:
        pack.write_bytes(damage(pack.read_bytes()))
        assert ClientCache(pack.parent).keys() == set()
        assert render(snapshot(state), ["linux", "openbsd"]) == fresh
        assert len(ClientCache(pack.parent).keys()) == 2  # redrawn and written again


def test_prune_keeps_what_the_render_used(state: State) -> None:
    cache_dir = state.root / "cache" / "clients"
    cache_dir.mkdir(parents=True)
    (cache_dir / ("0" * 64)).write_bytes(b"an entry of an older version, one file each")
    snap = snapshot(state)
    render(snap, ["linux", "openbsd"])
    state.remove("bob")
    snap = snapshot(state)
    render(snap, ["linux", "openbsd"])
    assert snap.cache is not None
    assert snap.cache.prune() == 2  # bob's entry and the old file
    assert [p.name for p in cache_dir.iterdir()] == [PACK]
    assert len(ClientCache(cache_dir).keys()) == 1


@given(st.binary(max_size=300))
def test_unseal_takes_only_what_seal_made(body: bytes) -> None:
    assert unseal(seal(body)) == body
    assert unseal(body) is None  # bytes that were not sealed (a digest cannot be guessed)
    assert unseal(seal(body)[:-1] if body else b"\n") is None  # cut short
