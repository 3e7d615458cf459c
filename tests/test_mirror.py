"""Tests mirror the source tree: every module ``P/.../m.py`` of the five packages has
``tests/P/.../test_m.py`` (``__init__.py`` and ``__main__.py`` excepted), and test helpers
live in ``tests/support/`` only: no test module or conftest imports from another one.

A module added without its test fails here: write the test beside the module's path.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
PACKAGES: Final = ("edgeward", "middleware", "caldav_gateway", "printer_sync", "vpn_provision")
NOT_MODULES: Final = frozenset({"__init__.py", "__main__.py"})
TEST_FILES_BESIDE_TESTS: Final = frozenset({"__init__.py", "conftest.py"})


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


def imports_of_other_tests(root: Path) -> set[str]:
    """``file: module`` for each test module or conftest that imports from another test
    module or a conftest: a helper two tests share belongs in tests/support/."""
    found = set()
    for p in (root / "tests").rglob("*.py"):
        if "support" in p.relative_to(root / "tests").parts[:1] or "__pycache__" in p.parts:
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "tests" and parts[1:2] != ["support"] and len(parts) > 1:
                    found.add(f"{p.relative_to(root).as_posix()}: {name}")
    return found


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
    (tmp_path / "tests/pkg/test_b.py").write_text(
        "from tests.pkg.test_a import x\nimport tests.pkg.conftest\nfrom tests.support import ok\n"
    )
    assert imports_of_other_tests(tmp_path) == {
        "tests/pkg/test_b.py: tests.pkg.test_a",
        "tests/pkg/test_b.py: tests.pkg.conftest",
    }


def test_every_module_has_its_mirror() -> None:
    assert sorted(without_mirror(ROOT)) == []


def test_helpers_live_in_tests_support() -> None:
    assert sorted(helpers_outside_support(ROOT)) == []


def test_tests_import_helpers_only_from_tests_support() -> None:
    assert sorted(imports_of_other_tests(ROOT)) == []
