"""The deploy files ``make run`` reads: from the checkout here, from the wheel installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeward import shipped


def test_in_a_checkout_the_files_are_read_where_they_are_edited() -> None:
    assert shipped.in_checkout()
    for relative in shipped.FILES:
        assert shipped.deploy_file(relative) == shipped.CHECKOUT / "deploy" / relative


def test_outside_a_checkout_the_packaged_copy_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shipped, "CHECKOUT", tmp_path / "site-packages")
    monkeypatch.setattr(shipped, "PACKAGED", tmp_path / "_deploy")
    (tmp_path / "_deploy").mkdir()
    (tmp_path / "_deploy" / "Procfile").write_text("app: x\n")
    assert shipped.deploy_file("Procfile") == tmp_path / "_deploy" / "Procfile"
    with pytest.raises(FileNotFoundError, match=r"nginx/realip\.conf is not shipped"):
        shipped.deploy_file("nginx/realip.conf")


def test_everything_make_run_reads_is_shipped() -> None:
    # make run reads the Procfile and, through middleware/demo_nginx.py, nginx files.
    demo_nginx = (shipped.CHECKOUT / "middleware" / "demo_nginx.py").read_text()
    assert "Procfile" in shipped.FILES
    for name in ("edgeward-app.conf", "edgeward-log-formats.conf", "realip.conf"):
        assert f"nginx/{name}" in shipped.FILES
        assert name in demo_nginx
