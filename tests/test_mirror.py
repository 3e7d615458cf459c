"""Tests mirror the source tree: every module ``P/.../m.py`` of the five packages has
``tests/P/.../test_m.py`` (``__init__.py`` and ``__main__.py`` excepted), and test helpers
live in ``tests/support/`` only.

``WAITING`` lists the modules still without their mirror while another branch adds them;
it must shrink, never grow: a module in it that has its mirror now fails the test too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
PACKAGES: Final = ("edgeward", "middleware", "caldav_gateway", "printer_sync", "vpn_provision")
NOT_MODULES: Final = frozenset({"__init__.py", "__main__.py"})
TEST_FILES_BESIDE_TESTS: Final = frozenset({"__init__.py", "conftest.py"})

# Being mirrored on another branch (caldav_gateway, printer_sync, vpn_provision).
WAITING: Final = frozenset(
    {
        "caldav_gateway/app.py",
        "caldav_gateway/cmd_doctor.py",
        "caldav_gateway/cmd_serve.py",
        "caldav_gateway/doctor/dav.py",
        "caldav_gateway/doctor/discovery_checks.py",
        "caldav_gateway/doctor/probe_checks.py",
        "caldav_gateway/doctor/profile_checks.py",
        "caldav_gateway/doctor/profile_run.py",
        "caldav_gateway/doctor/report.py",
        "caldav_gateway/doctor/runner.py",
        "caldav_gateway/doctor/target.py",
        "caldav_gateway/doctor/tls_checks.py",
        "caldav_gateway/instrument.py",
        "caldav_gateway/radicale_app.py",
        "caldav_gateway/respond.py",
        "caldav_gateway/server.py",
        "caldav_gateway/settings.py",
        "caldav_gateway/worker.py",
        "printer_sync/cmd_emulate.py",
        "printer_sync/cmd_history.py",
        "printer_sync/cmd_hook.py",
        "printer_sync/cmd_identify.py",
        "printer_sync/cmd_status.py",
        "printer_sync/cmd_watch.py",
        "printer_sync/drivers/base.py",
        "printer_sync/drivers/registry.py",
        "printer_sync/emulator/http.py",
        "printer_sync/emulator/thread.py",
        "printer_sync/errors.py",
        "printer_sync/metrics.py",
        "vpn_provision/checks.py",
        "vpn_provision/cmd_add.py",
        "vpn_provision/cmd_hook.py",
        "vpn_provision/cmd_init.py",
        "vpn_provision/cmd_link.py",
        "vpn_provision/cmd_list.py",
        "vpn_provision/cmd_qr.py",
        "vpn_provision/cmd_remove.py",
        "vpn_provision/cmd_render.py",
        "vpn_provision/cmd_serve.py",
        "vpn_provision/cmd_show.py",
        "vpn_provision/common.py",
        "vpn_provision/keys.py",
        "vpn_provision/metrics.py",
        "vpn_provision/render/cache.py",
        "vpn_provision/render/firewall.py",
        "vpn_provision/render/iked.py",
        "vpn_provision/render/qr.py",
        "vpn_provision/render/snapshot.py",
        "vpn_provision/render/strongswan.py",
        "vpn_provision/render/suites.py",
        "vpn_provision/render/unbound.py",
        "vpn_provision/render/wireguard.py",
    }
)
# Helpers still outside tests/support/ while another branch moves them.
WAITING_HELPERS: Final = frozenset(
    {"tests/caldav_gateway/attack.py", "tests/vpn_provision/netns.py"}
)


def mirror_of(module: Path) -> Path:
    """``P/sub/m.py`` → ``tests/P/sub/test_m.py`` (both relative to the repository)."""
    return Path("tests") / module.parent / f"test_{module.name}"


def modules(root: Path, package: str) -> list[Path]:
    return sorted(
        p.relative_to(root)
        for p in (root / package).rglob("*.py")
        if p.name not in NOT_MODULES and "__pycache__" not in p.parts
    )


def without_mirror(root: Path, packages: tuple[str, ...] = PACKAGES) -> set[str]:
    return {
        m.as_posix()
        for package in packages
        for m in modules(root, package)
        if not (root / mirror_of(m)).is_file()
    }


def helpers_outside_support(root: Path) -> set[str]:
    """Python files under tests/ that are neither tests nor package/pytest plumbing."""
    return {
        p.relative_to(root).as_posix()
        for p in (root / "tests").rglob("*.py")
        if not p.name.startswith("test_")
        and p.name not in TEST_FILES_BESIDE_TESTS
        and "support" not in p.relative_to(root / "tests").parts[:1]
        and "__pycache__" not in p.parts
    }


def test_mirror_of() -> None:
    assert mirror_of(Path("middleware/cli/signed_url/cmd_sign.py")) == Path(
        "tests/middleware/cli/signed_url/test_cmd_sign.py"
    )
    assert mirror_of(Path("edgeward/cli.py")) == Path("tests/edgeward/test_cli.py")


def test_the_checks_see_a_missing_mirror_and_a_stray_helper(tmp_path: Path) -> None:
    for path in ("pkg/__init__.py", "pkg/a.py", "pkg/sub/b.py", "pkg/__main__.py",
                 "tests/pkg/test_a.py", "tests/pkg/helper.py", "tests/pkg/conftest.py",
                 "tests/support/ok.py"):  # fmt: skip
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    assert without_mirror(tmp_path, ("pkg",)) == {"pkg/sub/b.py"}
    assert helpers_outside_support(tmp_path) == {"tests/pkg/helper.py"}


def test_every_module_of_edgeward_and_middleware_has_its_mirror() -> None:
    assert sorted(without_mirror(ROOT, ("edgeward", "middleware"))) == []


def test_the_other_packages_wait_only_for_what_is_listed() -> None:
    missing = without_mirror(ROOT)
    assert sorted(missing - WAITING) == []  # a new module without its test
    assert sorted(WAITING - missing) == []  # mirrored now: take it off the list


def test_helpers_live_in_tests_support() -> None:
    stray = helpers_outside_support(ROOT)
    assert sorted(stray - WAITING_HELPERS) == []
    assert sorted(WAITING_HELPERS - stray) == []  # moved now: take it off the list
