"""edgeward.onetime: signed single-use links, served by a real uvicorn.

valid → 200 once, then 404; expired → 410; one changed byte → 403; a subject the tool no
longer knows → 404; nothing under / lists anything; every answer counted and audited."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from edgeward.onetime import RESULTS, Bundle, Download, NonceStore, make_link, onetime_app
from middleware.signed import KeyRing, new_key_line
from tests.support.servers import uvicorn_server


class Env:
    def __init__(self, tmp: Path) -> None:
        self.store = NonceStore(tmp / "db.sqlite")
        self.ring = KeyRing.parse(new_key_line("k1"))
        self.registry = CollectorRegistry()
        self.counter = Counter("t_downloads", "test", ["result"], registry=self.registry)
        self.subjects = {
            "s1": Bundle(
                "Files for s1",
                (Download("a.txt", b"alpha", "text/plain", "Get A <now>"),),
                qr_png=b"\x89PNG fake",
                notes=("password: <pw>",),
            )
        }
        self.app = onetime_app(self.store, self.ring, self.subjects.get, self.counter)

    def link(self, subject: str = "s1", expires_in: int = 60, now: float | None = None) -> str:
        return make_link(
            self.store,
            self.ring,
            subject,
            base_url="",
            prefix="/d/",
            expires_in=expires_in,
            now=now,
        )

    def count(self, result: str) -> float:
        return self.registry.get_sample_value("t_downloads_total", {"result": result}) or 0.0


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


def test_valid_link_works_once_and_its_buttons_once(env: Env) -> None:
    link = env.link()
    with uvicorn_server(env.app) as base, httpx.Client(base_url=base) as c:
        first = c.get(link)
        assert first.status_code == 200
        assert "Files for s1" in first.text and "Get A &lt;now&gt;" in first.text
        assert "data:image/png;base64," in first.text and "password: &lt;pw&gt;" in first.text
        assert first.headers["cache-control"] == "no-store"
        assert c.get(link).status_code == 404
        href = first.text.split("href='")[1].split("'")[0].replace("&amp;", "&")
        assert href.startswith("/d/") and "sig=" in href
        got = c.get(href)
        assert got.status_code == 200 and got.content == b"alpha"
        assert got.headers["content-disposition"] == 'attachment; filename="a.txt"'
        assert c.get(href).status_code == 404
    assert env.count("ok") == 2 and env.count("used") == 2
    rows = env.store.audit_rows()
    assert [(r.item, r.result, r.status) for r in rows] == [
        ("page", "ok", 200),
        ("page", "used", 404),
        ("a.txt", "ok", 200),
        ("a.txt", "used", 404),
    ]
    assert rows[0].subject == "s1" and rows[0].client == "127.0.0.1"


@pytest.mark.parametrize(
    ("case", "status", "result"),
    [
        ("expired", 410, "expired"),
        ("changed_nonce", 403, "forged"),
        ("changed_sig", 403, "forged"),
        ("unsigned", 403, "forged"),
        ("gone_subject", 404, "gone"),
        ("unknown_nonce", 404, "unknown"),
    ],
)
def test_refusals(env: Env, case: str, status: int, result: str) -> None:
    link = env.link()
    if case == "expired":
        link = env.link(expires_in=10, now=time.time() - 100)
    elif case == "changed_nonce":
        i = len("/d/") + 3
        link = link[:i] + ("A" if link[i] != "A" else "B") + link[i + 1 :]
    elif case == "changed_sig":
        link = link[:-1] + ("A" if link[-1] != "A" else "B")
    elif case == "unsigned":
        link = link.split("?")[0]
    elif case == "gone_subject":
        link = env.link(subject="removed-meanwhile")
    elif case == "unknown_nonce":
        from middleware.signed import sign_url

        link = sign_url("/d/never-issued", env.ring, expires_in=60)
    with uvicorn_server(env.app) as base, httpx.Client(base_url=base) as c:
        r = c.get(link)
        assert r.status_code == status
        if status != 200:
            assert "s1" not in r.text
    assert env.count(result) == 1
    assert [x.result for x in env.store.audit_rows()] == [result]


@pytest.mark.parametrize("path", ["/", "/d/", "/d", "/index.html", "/d/?list", "/metrics"])
def test_nothing_lists_subjects(env: Env, path: str) -> None:
    env.link()
    with uvicorn_server(env.app) as base, httpx.Client(base_url=base) as c:
        r = c.get(path)
        assert r.status_code in (403, 404)
        assert "s1" not in r.text and "Files" not in r.text


def test_a_file_link_needs_the_page_first(env: Env) -> None:
    """Signing a file link is not enough: its nonce's page must have been opened."""
    from middleware.signed import sign_url

    link = env.link()
    nonce = link.split("?")[0].removeprefix("/d/")
    with uvicorn_server(env.app) as base, httpx.Client(base_url=base) as c:
        r = c.get(sign_url(f"/d/{nonce}/a.txt", env.ring, expires_in=60))
        assert r.status_code == 404
        assert c.get(link).status_code == 200  # the page still works once


def test_results_are_the_declared_ones() -> None:
    assert set(RESULTS) >= {"ok", "used", "unknown", "gone", "expired", "forged", "corrupted"}
